-- jpki-store migration 3 (PostgreSQL): the certificate lifecycle and the status services.
-- Each certificate's CRL shard (chosen at issuance, written into its CRL distribution
-- point) and the time of its last status change (what delta CRLs and the OCSP
-- pre-signer poll); accounts holding API keys (operators and registered verifiers),
-- stored as SHA-256 digests only; and the CRLs published, so that every process serves
-- the same ones and numbers keep increasing across restarts.

ALTER TABLE certificates ADD COLUMN crl_shard BIGINT NOT NULL DEFAULT 0 CHECK (crl_shard >= 0);
ALTER TABLE certificates ADD COLUMN status_changed_at BIGINT NOT NULL DEFAULT 0;
UPDATE certificates SET status_changed_at = COALESCE(revoked_at, held_since, issued_at);

CREATE INDEX certificates_status_changed_idx ON certificates (status_changed_at);
CREATE INDEX certificates_shard_changed_idx
    ON certificates (issuer_name, crl_shard, status_changed_at);
-- Covering: a full CRL reads every listed certificate of a shard (a million of them
-- at scale) from the index alone, without a lookup per row.
CREATE INDEX certificates_shard_listed_idx
    ON certificates (issuer_name, crl_shard)
    INCLUDE (serial, status, held_since, revoked_at, revocation_reason, issued_at, not_after)
    WHERE status <> 'active';
CREATE INDEX certificates_renewal_idx
    ON certificates (renewal_of_issuer, renewal_of_serial) WHERE renewal_of_issuer IS NOT NULL;

CREATE TABLE accounts (
    name TEXT NOT NULL PRIMARY KEY CHECK (name <> ''),
    role TEXT NOT NULL CHECK (role IN ('hotline', 'auditor', 'verifier')),
    key_hash BYTEA NOT NULL CHECK (octet_length(key_hash) = 32),
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    CONSTRAINT accounts_key_hash_key UNIQUE (key_hash)
);

CREATE TABLE crl_publications (
    issuer_name TEXT NOT NULL CHECK (issuer_name <> ''),
    shard BIGINT NOT NULL CHECK (shard >= 0),
    number BIGINT NOT NULL CHECK (number > 0),
    base_number BIGINT CHECK (base_number IS NULL OR base_number < number),
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der BYTEA NOT NULL CHECK (octet_length(der) > 0),
    PRIMARY KEY (issuer_name, shard, number),
    CHECK (this_update <= next_update)
);
