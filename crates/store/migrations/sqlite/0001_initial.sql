-- jpki-store migration 1 (SQLite): residents, certificates, cards, nonces, audit log.
-- Times are INTEGER microseconds since the Unix epoch (UTC). STRICT tables refuse
-- values of the wrong type, as PostgreSQL does.

CREATE TABLE residents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    my_number TEXT NOT NULL,
    name TEXT NOT NULL,
    name_substitute TEXT NOT NULL,
    address TEXT NOT NULL,
    address_substitute TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('1', '2', '9')),
    deceased_at INTEGER,
    registered_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    history_seq INTEGER NOT NULL CHECK (history_seq >= 1),
    CONSTRAINT residents_my_number_key UNIQUE (my_number)
) STRICT;

CREATE INDEX residents_name_birth_idx ON residents (name, date_of_birth);

CREATE TABLE resident_history (
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    kind TEXT NOT NULL
        CHECK (kind IN ('registered', 'move', 'rename', 'correction', 'death')),
    name TEXT NOT NULL,
    name_substitute TEXT NOT NULL,
    address TEXT NOT NULL,
    address_substitute TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('1', '2', '9')),
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (resident_id, seq)
) STRICT;

CREATE TABLE authorities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (name <> ''),
    certificate_der BLOB NOT NULL,
    fingerprint BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT authorities_name_fingerprint_key UNIQUE (name, fingerprint)
) STRICT;

CREATE INDEX authorities_name_idx ON authorities (name, created_at);

CREATE TABLE serials (
    issuer_name TEXT NOT NULL,
    serial BLOB NOT NULL CHECK (length(serial) BETWEEN 1 AND 20),
    reserved_at INTEGER NOT NULL,
    PRIMARY KEY (issuer_name, serial)
) STRICT;

CREATE TABLE cards (
    card_id TEXT NOT NULL PRIMARY KEY CHECK (card_id <> ''),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    issued_at INTEGER NOT NULL,
    CONSTRAINT cards_card_resident_key UNIQUE (card_id, resident_id)
) STRICT;

CREATE INDEX cards_resident_idx ON cards (resident_id);

CREATE TABLE devices (
    device_id TEXT NOT NULL PRIMARY KEY CHECK (device_id <> ''),
    token_hash BLOB NOT NULL,
    resident_id INTEGER REFERENCES residents (id),
    state TEXT NOT NULL CHECK (state IN ('active', 'superseded', 'wiped')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX devices_resident_idx ON devices (resident_id);

CREATE TABLE certificates (
    issuer_name TEXT NOT NULL,
    serial BLOB NOT NULL,
    kind TEXT NOT NULL
        CHECK (kind IN ('card_sign', 'card_auth', 'phone_sign', 'phone_auth')),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    card_id TEXT,
    device_id TEXT,
    subject_cn TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    der BLOB NOT NULL,
    issued_at INTEGER NOT NULL,
    renewal_of_issuer TEXT,
    renewal_of_serial BLOB,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'held', 'revoked')),
    held_since INTEGER,
    revoked_at INTEGER,
    revocation_reason INTEGER,
    PRIMARY KEY (issuer_name, serial),
    FOREIGN KEY (issuer_name, serial) REFERENCES serials (issuer_name, serial),
    FOREIGN KEY (card_id, resident_id) REFERENCES cards (card_id, resident_id),
    FOREIGN KEY (device_id) REFERENCES devices (device_id),
    FOREIGN KEY (renewal_of_issuer, renewal_of_serial)
        REFERENCES certificates (issuer_name, serial),
    CHECK ((card_id IS NULL) <> (device_id IS NULL)),
    CHECK ((kind IN ('card_sign', 'card_auth')) = (card_id IS NOT NULL)),
    CHECK ((renewal_of_issuer IS NULL) = (renewal_of_serial IS NULL)),
    CHECK (not_before <= not_after),
    CHECK (
        (status IN ('pending', 'active') AND held_since IS NULL AND revoked_at IS NULL
            AND revocation_reason IS NULL)
        OR (status = 'held' AND held_since IS NOT NULL AND revoked_at IS NULL
            AND revocation_reason IS NULL)
        OR (status = 'revoked' AND held_since IS NULL AND revoked_at IS NOT NULL
            AND revocation_reason IS NOT NULL)
    )
) STRICT;

CREATE INDEX certificates_resident_idx ON certificates (resident_id);
CREATE INDEX certificates_card_idx ON certificates (card_id) WHERE card_id IS NOT NULL;
CREATE INDEX certificates_device_idx ON certificates (device_id) WHERE device_id IS NOT NULL;

CREATE TABLE nonces (
    nonce BLOB NOT NULL PRIMARY KEY CHECK (length(nonce) > 0),
    purpose TEXT NOT NULL,
    subject TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    CHECK (issued_at < expires_at)
) STRICT;

CREATE INDEX nonces_expires_idx ON nonces (expires_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail_json TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_subject_idx ON audit_log (subject, id);
