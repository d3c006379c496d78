-- jpki-store migration 5 (SQLite): the verifiable usage log (docs/verifiable-log.md §8).
-- Every usage_history row is a link of its person's hash chain and a leaf of one
-- RFC 9162 Merkle tree, written in the same transaction as the row; signed tree heads
-- are kept so that consistency proofs between any two of them can be given.

-- One row: the number of leaves. Every append starts by raising it, which serializes
-- appends (the write lock in SQLite, the row lock until commit in PostgreSQL): two
-- writers never get the same leaf index, and leaves commit in index order.
CREATE TABLE log_state (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0)
) STRICT;

INSERT INTO log_state (id, tree_size) VALUES (1, 0);

-- Each person's pseudonymous log id (HMAC of the resident id under the operator's
-- pseudonym key), made at their first usage entry.
CREATE TABLE log_persons (
    resident_id INTEGER NOT NULL PRIMARY KEY REFERENCES residents (id),
    person_log_id TEXT NOT NULL UNIQUE CHECK (person_log_id <> ''),
    created_at INTEGER NOT NULL
) STRICT;

-- The tree's leaves: SHA-256(0x00 || leaf data), leaf i at index i.
CREATE TABLE log_leaves (
    leaf_index INTEGER NOT NULL PRIMARY KEY CHECK (leaf_index >= 0),
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;

-- Link `seq` of a person's chain: the usage row it commits, E(seq), chain(seq) and
-- the leaf that commits both.
CREATE TABLE log_links (
    resident_id INTEGER NOT NULL REFERENCES log_persons (resident_id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    leaf_index INTEGER NOT NULL UNIQUE REFERENCES log_leaves (leaf_index),
    usage_id INTEGER NOT NULL UNIQUE REFERENCES usage_history (id),
    entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32),
    chain BLOB NOT NULL CHECK (length(chain) = 32),
    PRIMARY KEY (resident_id, seq)
) STRICT;

-- Published signed tree heads, one per tree size.
CREATE TABLE log_tree_heads (
    tree_size INTEGER NOT NULL PRIMARY KEY CHECK (tree_size >= 0),
    timestamp_ms INTEGER NOT NULL CHECK (timestamp_ms >= 0),
    root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
    log_id BLOB NOT NULL CHECK (length(log_id) = 32),
    signature BLOB NOT NULL CHECK (length(signature) > 0)
) STRICT;

-- The history pages (newest first, by action): see UsageStore::usage_page.
CREATE INDEX usage_history_resident_action_idx ON usage_history (resident_id, action, id);
