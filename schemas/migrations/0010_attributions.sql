-- Credit per conversion, model and touchpoint.
-- One row per (site, model, conversion, session); a recomputation writes every row again
-- with a higher version, and a touch that dropped out of the journey gets a row with
-- credit 0 and removed = 1. Query with FINAL (or argMax over version) and sum credit.
-- The synthetic Direct touch of a conversion without touchpoints has session_id ''.
CREATE TABLE IF NOT EXISTS {db}.attributions
(
    site_id         String,
    conversion_id   String,
    conversion_type String,
    lead_type       String,
    occurred_at     DateTime,
    person_id       String,
    model           String,
    session_id      String,
    touch_at        DateTime,
    channel         String,
    source          String,
    medium          String,
    campaign        String,
    term            String,
    content         String,
    landing_page    String,
    credit          Float64,
    revenue         Float64,
    currency        String,
    removed         UInt8,
    computed_at     DateTime,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site_id, model, conversion_id, session_id);
