-- The attribution engine's progress per site: how far it has read conversions, sessions
-- and person merges (as their version columns), and the lookback window it last used,
-- so a restart resumes where it stopped and a changed lookback triggers a rebuild.
CREATE TABLE IF NOT EXISTS {db}.attribution_state
(
    site_id    String,
    name       String,
    value      UInt64,
    updated_at DateTime,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, name);
