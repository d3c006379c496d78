-- jpki-store migration 8 (PostgreSQL): one index fewer on every certificate written.
-- `certificates_resident_idx (resident_id)` is a prefix of migration 7's
-- `certificates_resident_kind_idx (resident_id, kind, issued_at, issuer_name, serial)`,
-- which serves every lookup by person (and the foreign key to `residents`) as well.

DROP INDEX certificates_resident_idx;
