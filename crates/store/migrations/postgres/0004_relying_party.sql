-- jpki-store migration 4 (PostgreSQL): relying parties. Login challenges and sessions,
-- signed online applications with their validation evidence, platform-operator users,
-- and sign requests from private apps.

CREATE TABLE login_challenges (
    id TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
    challenge BYTEA NOT NULL CHECK (octet_length(challenge) >= 16),
    code TEXT NOT NULL CHECK (code <> ''),
    browser_secret_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    approved_at BIGINT,
    resident_id BIGINT REFERENCES residents (id),
    device_id TEXT,
    certificate_issuer TEXT,
    certificate_serial BYTEA,
    collected_at BIGINT,
    CHECK (created_at < expires_at),
    CHECK ((approved_at IS NULL) = (resident_id IS NULL)),
    CONSTRAINT login_challenges_code_key UNIQUE (code)
);

CREATE TABLE sessions (
    token_hash BYTEA NOT NULL PRIMARY KEY,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    login_challenge TEXT REFERENCES login_challenges (id),
    revoked_at BIGINT,
    CHECK (created_at < expires_at)
);

CREATE INDEX sessions_resident_idx ON sessions (resident_id);

CREATE TABLE submissions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id TEXT NOT NULL CHECK (public_id <> ''),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    certificate_issuer TEXT NOT NULL,
    certificate_serial BYTEA NOT NULL,
    title TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    report_json TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    CONSTRAINT submissions_public_id_key UNIQUE (public_id)
);

CREATE INDEX submissions_resident_idx ON submissions (resident_id, id);

CREATE TABLE relying_parties (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    key_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    CONSTRAINT relying_parties_name_key UNIQUE (name),
    CONSTRAINT relying_parties_key_hash_key UNIQUE (key_hash)
);

CREATE TABLE platform_users (
    relying_party_id BIGINT NOT NULL REFERENCES relying_parties (id),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    user_id TEXT NOT NULL CHECK (user_id <> ''),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (relying_party_id, resident_id),
    CONSTRAINT platform_users_user_id_key UNIQUE (user_id)
);

CREATE TABLE sign_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id TEXT NOT NULL CHECK (public_id <> ''),
    relying_party_id BIGINT NOT NULL REFERENCES relying_parties (id),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    purpose TEXT NOT NULL CHECK (purpose <> ''),
    kind TEXT NOT NULL CHECK (kind IN ('signature', 'authentication')),
    content BYTEA NOT NULL,
    verification_code TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT,
    device_id TEXT,
    signature BYTEA,
    certificate BYTEA,
    CHECK (created_at < expires_at),
    CONSTRAINT sign_requests_public_id_key UNIQUE (public_id)
);

CREATE INDEX sign_requests_resident_idx ON sign_requests (resident_id, state, id);
