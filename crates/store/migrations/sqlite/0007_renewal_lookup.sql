-- jpki-store migration 7 (SQLite): a person's latest certificate of a kind in one index
-- lookup. Every new phone certificate names the person's previous one of its kind
-- (新旧紐付け); without this index finding it read all of the person's certificates.
-- The index holds the whole ORDER BY (issued_at, issuer_name, serial), so the lookup
-- reads one row however many certificates the person has.

CREATE INDEX certificates_resident_kind_idx
    ON certificates (resident_id, kind, issued_at, issuer_name, serial);
