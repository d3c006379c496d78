-- jpki-store migration 6 (PostgreSQL): the operator console on the web. Two more roles
-- for accounts (counter: municipal counter staff who look people up; admin: everything
-- the hotline may do), a password credential (an argon2id PHC string: salt and digest,
-- never the password), and the console's sessions (SHA-256 of the token only).

ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('hotline', 'auditor', 'verifier', 'counter', 'admin'));
ALTER TABLE accounts ADD COLUMN password_hash TEXT
    CHECK (password_hash IS NULL OR substr(password_hash, 1, 10) = '$argon2id$');
ALTER TABLE accounts ADD COLUMN password_changed_at BIGINT;
ALTER TABLE accounts ADD CONSTRAINT accounts_password_changed_check
    CHECK ((password_hash IS NULL) = (password_changed_at IS NULL));

CREATE TABLE operator_sessions (
    token_hash BYTEA NOT NULL PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    account_name TEXT NOT NULL REFERENCES accounts (name),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK (created_at < expires_at)
);

CREATE INDEX operator_sessions_account_idx ON operator_sessions (account_name);
