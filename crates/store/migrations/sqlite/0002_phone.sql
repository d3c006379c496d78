-- jpki-store migration 2 (SQLite): phone applications, links to the certificates they
-- produced, device notifications, and each person's usage history.

CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL CHECK (public_id <> ''),
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    kinds TEXT NOT NULL CHECK (kinds <> ''),
    card_issuer TEXT NOT NULL,
    card_serial BLOB NOT NULL,
    request_json TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'issued', 'registered', 'superseded', 'failed')),
    submitted_at INTEGER NOT NULL,
    issued_at INTEGER,
    registered_at INTEGER,
    activate_at INTEGER,
    failure TEXT,
    CONSTRAINT applications_public_id_key UNIQUE (public_id)
) STRICT;

CREATE INDEX applications_resident_idx ON applications (resident_id, id);
CREATE INDEX applications_state_idx ON applications (state, id);

CREATE TABLE application_certificates (
    application_id INTEGER NOT NULL REFERENCES applications (id),
    issuer_name TEXT NOT NULL,
    serial BLOB NOT NULL,
    PRIMARY KEY (issuer_name, serial),
    FOREIGN KEY (issuer_name, serial) REFERENCES certificates (issuer_name, serial)
) STRICT;

CREATE INDEX application_certificates_application_idx ON application_certificates (application_id);

CREATE TABLE device_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    kind TEXT NOT NULL CHECK (kind <> ''),
    payload_json TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX device_events_device_idx ON device_events (device_id, seq);

CREATE TABLE usage_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    occurred_at INTEGER NOT NULL,
    device_id TEXT,
    action TEXT NOT NULL CHECK (action <> ''),
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    detail_json TEXT NOT NULL
) STRICT;

CREATE INDEX usage_history_resident_idx ON usage_history (resident_id, id);
