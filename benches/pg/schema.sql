-- PostgreSQL peer for docs/BENCHMARKS.md: a hash-chained audit table.
-- Loaded by run.sh into a private, throwaway cluster; hashchain.sql appends to it.

-- gen_random_bytes() for the payload. sha256(bytea) itself is built in (PostgreSQL >= 11).
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE audit_log (
    seq     bigint PRIMARY KEY,      -- 1, 2, 3, ... with no gap
    prev    bytea NOT NULL,          -- hash of entry seq - 1 (genesis hash for seq 1)
    hash    bytea NOT NULL,          -- sha256(prev || payload)
    payload bytea NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);

-- The single head row: the last sequence number and its hash. Every append locks it
-- (SELECT ... FOR UPDATE), so appends are serialised through it.
CREATE TABLE head (
    id   int PRIMARY KEY,
    seq  bigint NOT NULL,
    hash bytea NOT NULL
);

-- Genesis: seq 0, 32 zero bytes.
INSERT INTO head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
