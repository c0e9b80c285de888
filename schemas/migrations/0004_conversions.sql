-- Conversions: leads, sales and lifecycle stages, one row per
-- (site, conversion id). Posting the same conversion id again replaces the row; the one
-- received last wins (version = received_at in ms). Not partitioned by occurred_at so a
-- corrected occurred_at still replaces the earlier row.
-- person_id is the person when the row was written; resolve it through person_aliases.
CREATE TABLE IF NOT EXISTS {db}.conversions
(
    site_id       String,
    conversion_id String,
    type          String,
    lead_type     String,
    occurred_at   DateTime,
    received_at   DateTime,
    visitor_id    String,
    person_id     String,
    email_sha256  String,
    user_id       String,
    session_id    String,
    value         Float64,
    currency      String,
    props         String,
    event_id      UUID,
    origin        String,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, conversion_id);
