-- jpki-store migration 6 (SQLite): the operator console on the web. Two more roles for
-- accounts (counter: municipal counter staff who look people up; admin: everything the
-- hotline may do), a password credential (an argon2id PHC string: salt and digest,
-- never the password), and the console's sessions (SHA-256 of the token only).
--
-- SQLite cannot change a CHECK constraint in place: the accounts table is rebuilt with
-- the same rows (nothing references it by foreign key before this migration).

CREATE TABLE accounts_v6 (
    name TEXT NOT NULL PRIMARY KEY CHECK (name <> ''),
    role TEXT NOT NULL CHECK (role IN ('hotline', 'auditor', 'verifier', 'counter', 'admin')),
    key_hash BLOB NOT NULL CHECK (length(key_hash) = 32),
    created_at INTEGER NOT NULL,
    disabled_at INTEGER,
    password_hash TEXT CHECK (password_hash IS NULL OR substr(password_hash, 1, 10) = '$argon2id$'),
    password_changed_at INTEGER,
    CHECK ((password_hash IS NULL) = (password_changed_at IS NULL)),
    CONSTRAINT accounts_key_hash_key UNIQUE (key_hash)
) STRICT;

INSERT INTO accounts_v6 (name, role, key_hash, created_at, disabled_at)
    SELECT name, role, key_hash, created_at, disabled_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v6 RENAME TO accounts;

CREATE TABLE operator_sessions (
    token_hash BLOB NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    account_name TEXT NOT NULL REFERENCES accounts (name),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    CHECK (created_at < expires_at)
) STRICT;

CREATE INDEX operator_sessions_account_idx ON operator_sessions (account_name);
