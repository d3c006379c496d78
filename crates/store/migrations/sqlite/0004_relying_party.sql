-- jpki-store migration 4 (SQLite): relying parties. Login challenges and sessions,
-- signed online applications with their validation evidence, platform-operator users,
-- and sign requests from private apps.

CREATE TABLE login_challenges (
    id TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
    challenge BLOB NOT NULL CHECK (length(challenge) >= 16),
    code TEXT NOT NULL CHECK (code <> ''),
    browser_secret_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    approved_at INTEGER,
    resident_id INTEGER REFERENCES residents (id),
    device_id TEXT,
    certificate_issuer TEXT,
    certificate_serial BLOB,
    collected_at INTEGER,
    CHECK (created_at < expires_at),
    CHECK ((approved_at IS NULL) = (resident_id IS NULL)),
    CONSTRAINT login_challenges_code_key UNIQUE (code)
) STRICT;

CREATE TABLE sessions (
    token_hash BLOB NOT NULL PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    login_challenge TEXT REFERENCES login_challenges (id),
    revoked_at INTEGER,
    CHECK (created_at < expires_at)
) STRICT;

CREATE INDEX sessions_resident_idx ON sessions (resident_id);

CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL CHECK (public_id <> ''),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    certificate_issuer TEXT NOT NULL,
    certificate_serial BLOB NOT NULL,
    title TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL,
    signature BLOB NOT NULL,
    report_json TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    CONSTRAINT submissions_public_id_key UNIQUE (public_id)
) STRICT;

CREATE INDEX submissions_resident_idx ON submissions (resident_id, id);

CREATE TABLE relying_parties (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (name <> ''),
    key_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER,
    CONSTRAINT relying_parties_name_key UNIQUE (name),
    CONSTRAINT relying_parties_key_hash_key UNIQUE (key_hash)
) STRICT;

CREATE TABLE platform_users (
    relying_party_id INTEGER NOT NULL REFERENCES relying_parties (id),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    user_id TEXT NOT NULL CHECK (user_id <> ''),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (relying_party_id, resident_id),
    CONSTRAINT platform_users_user_id_key UNIQUE (user_id)
) STRICT;

CREATE TABLE sign_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL CHECK (public_id <> ''),
    relying_party_id INTEGER NOT NULL REFERENCES relying_parties (id),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    purpose TEXT NOT NULL CHECK (purpose <> ''),
    kind TEXT NOT NULL CHECK (kind IN ('signature', 'authentication')),
    content BLOB NOT NULL,
    verification_code TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER,
    device_id TEXT,
    signature BLOB,
    certificate BLOB,
    CHECK (created_at < expires_at),
    CONSTRAINT sign_requests_public_id_key UNIQUE (public_id)
) STRICT;

CREATE INDEX sign_requests_resident_idx ON sign_requests (resident_id, state, id);
