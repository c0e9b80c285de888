-- Leases: jobs that one instance at a time may run (attribution's crediting and rollups of
-- a site, named `attribution/<site>`). Every instance that may run a job renews a row of its
-- own every few seconds (beat grows) with its state for the job (0 waiting, 1 claiming,
-- 2 running); one that stops writes released = 1. See internal/lease for how the holder is
-- chosen and how a dead one is replaced.
CREATE TABLE IF NOT EXISTS {db}.leases
(
    name       String,
    holder     String,
    started_at UInt64,
    beat       UInt64,
    state      UInt8,
    released   UInt8,
    updated_at DateTime
)
ENGINE = ReplacingMergeTree(beat)
ORDER BY (name, holder);
