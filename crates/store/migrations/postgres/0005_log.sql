-- jpki-store migration 5 (PostgreSQL): the verifiable usage log (docs/verifiable-log.md §8).
-- Every usage_history row is a link of its person's hash chain and a leaf of one
-- RFC 9162 Merkle tree, written in the same transaction as the row; signed tree heads
-- are kept so that consistency proofs between any two of them can be given.

-- One row: the number of leaves. Every append starts by raising it, which serializes
-- appends (the write lock in SQLite, the row lock until commit in PostgreSQL): two
-- writers never get the same leaf index, and leaves commit in index order.
CREATE TABLE log_state (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL CHECK (tree_size >= 0)
);

INSERT INTO log_state (id, tree_size) VALUES (1, 0);

-- Each person's pseudonymous log id (HMAC of the resident id under the operator's
-- pseudonym key), made at their first usage entry.
CREATE TABLE log_persons (
    resident_id BIGINT NOT NULL PRIMARY KEY REFERENCES residents (id),
    person_log_id TEXT NOT NULL UNIQUE CHECK (person_log_id <> ''),
    created_at BIGINT NOT NULL
);

-- The tree's leaves: SHA-256(0x00 || leaf data), leaf i at index i.
CREATE TABLE log_leaves (
    leaf_index BIGINT NOT NULL PRIMARY KEY CHECK (leaf_index >= 0),
    leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
);

-- Link `seq` of a person's chain: the usage row it commits, E(seq), chain(seq) and
-- the leaf that commits both.
CREATE TABLE log_links (
    resident_id BIGINT NOT NULL REFERENCES log_persons (resident_id),
    seq BIGINT NOT NULL CHECK (seq >= 1),
    leaf_index BIGINT NOT NULL UNIQUE REFERENCES log_leaves (leaf_index),
    usage_id BIGINT NOT NULL UNIQUE REFERENCES usage_history (id),
    entry_hash BYTEA NOT NULL CHECK (octet_length(entry_hash) = 32),
    chain BYTEA NOT NULL CHECK (octet_length(chain) = 32),
    PRIMARY KEY (resident_id, seq)
);

-- Published signed tree heads, one per tree size.
CREATE TABLE log_tree_heads (
    tree_size BIGINT NOT NULL PRIMARY KEY CHECK (tree_size >= 0),
    timestamp_ms BIGINT NOT NULL CHECK (timestamp_ms >= 0),
    root_hash BYTEA NOT NULL CHECK (octet_length(root_hash) = 32),
    log_id BYTEA NOT NULL CHECK (octet_length(log_id) = 32),
    signature BYTEA NOT NULL CHECK (octet_length(signature) > 0)
);

-- The history pages (newest first, by action): see UsageStore::usage_page.
CREATE INDEX usage_history_resident_action_idx ON usage_history (resident_id, action, id);
