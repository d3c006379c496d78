-- jpki-store migration 2 (PostgreSQL): phone applications, links to the certificates they
-- produced, device notifications, and each person's usage history.

CREATE TABLE applications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id TEXT NOT NULL CHECK (public_id <> ''),
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    kinds TEXT NOT NULL CHECK (kinds <> ''),
    card_issuer TEXT NOT NULL,
    card_serial BYTEA NOT NULL,
    request_json TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'issued', 'registered', 'superseded', 'failed')),
    submitted_at BIGINT NOT NULL,
    issued_at BIGINT,
    registered_at BIGINT,
    activate_at BIGINT,
    failure TEXT,
    CONSTRAINT applications_public_id_key UNIQUE (public_id)
);

CREATE INDEX applications_resident_idx ON applications (resident_id, id);
CREATE INDEX applications_state_idx ON applications (state, id);

CREATE TABLE application_certificates (
    application_id BIGINT NOT NULL REFERENCES applications (id),
    issuer_name TEXT NOT NULL,
    serial BYTEA NOT NULL,
    PRIMARY KEY (issuer_name, serial),
    FOREIGN KEY (issuer_name, serial) REFERENCES certificates (issuer_name, serial)
);

CREATE INDEX application_certificates_application_idx ON application_certificates (application_id);

CREATE TABLE device_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    kind TEXT NOT NULL CHECK (kind <> ''),
    payload_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX device_events_device_idx ON device_events (device_id, seq);

CREATE TABLE usage_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    occurred_at BIGINT NOT NULL,
    device_id TEXT,
    action TEXT NOT NULL CHECK (action <> ''),
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    detail_json TEXT NOT NULL
);

CREATE INDEX usage_history_resident_idx ON usage_history (resident_id, id);
