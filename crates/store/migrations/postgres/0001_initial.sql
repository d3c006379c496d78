-- jpki-store migration 1 (PostgreSQL): residents, certificates, cards, nonces, audit log.
-- Times are BIGINT microseconds since the Unix epoch (UTC); binary data is BYTEA.

CREATE TABLE residents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    my_number TEXT NOT NULL,
    name TEXT NOT NULL,
    name_substitute TEXT NOT NULL,
    address TEXT NOT NULL,
    address_substitute TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('1', '2', '9')),
    deceased_at BIGINT,
    registered_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    history_seq BIGINT NOT NULL CHECK (history_seq >= 1),
    CONSTRAINT residents_my_number_key UNIQUE (my_number)
);

CREATE INDEX residents_name_birth_idx ON residents (name, date_of_birth);

CREATE TABLE resident_history (
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    seq BIGINT NOT NULL CHECK (seq >= 1),
    kind TEXT NOT NULL
        CHECK (kind IN ('registered', 'move', 'rename', 'correction', 'death')),
    name TEXT NOT NULL,
    name_substitute TEXT NOT NULL,
    address TEXT NOT NULL,
    address_substitute TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('1', '2', '9')),
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (resident_id, seq)
);

CREATE TABLE authorities (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    certificate_der BYTEA NOT NULL,
    fingerprint BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT authorities_name_fingerprint_key UNIQUE (name, fingerprint)
);

CREATE INDEX authorities_name_idx ON authorities (name, created_at);

CREATE TABLE serials (
    issuer_name TEXT NOT NULL,
    serial BYTEA NOT NULL CHECK (octet_length(serial) BETWEEN 1 AND 20),
    reserved_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_name, serial)
);

CREATE TABLE cards (
    card_id TEXT NOT NULL PRIMARY KEY CHECK (card_id <> ''),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    issued_at BIGINT NOT NULL,
    CONSTRAINT cards_card_resident_key UNIQUE (card_id, resident_id)
);

CREATE INDEX cards_resident_idx ON cards (resident_id);

CREATE TABLE devices (
    device_id TEXT NOT NULL PRIMARY KEY CHECK (device_id <> ''),
    token_hash BYTEA NOT NULL,
    resident_id BIGINT REFERENCES residents (id),
    state TEXT NOT NULL CHECK (state IN ('active', 'superseded', 'wiped')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX devices_resident_idx ON devices (resident_id);

CREATE TABLE certificates (
    issuer_name TEXT NOT NULL,
    serial BYTEA NOT NULL,
    kind TEXT NOT NULL
        CHECK (kind IN ('card_sign', 'card_auth', 'phone_sign', 'phone_auth')),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    card_id TEXT,
    device_id TEXT,
    subject_cn TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    der BYTEA NOT NULL,
    issued_at BIGINT NOT NULL,
    renewal_of_issuer TEXT,
    renewal_of_serial BYTEA,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'held', 'revoked')),
    held_since BIGINT,
    revoked_at BIGINT,
    revocation_reason BIGINT,
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
);

CREATE INDEX certificates_resident_idx ON certificates (resident_id);
CREATE INDEX certificates_card_idx ON certificates (card_id) WHERE card_id IS NOT NULL;
CREATE INDEX certificates_device_idx ON certificates (device_id) WHERE device_id IS NOT NULL;

CREATE TABLE nonces (
    nonce BYTEA NOT NULL PRIMARY KEY CHECK (octet_length(nonce) > 0),
    purpose TEXT NOT NULL,
    subject TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    CHECK (issued_at < expires_at)
);

CREATE INDEX nonces_expires_idx ON nonces (expires_at);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail_json TEXT NOT NULL
);

CREATE INDEX audit_log_subject_idx ON audit_log (subject, id);
