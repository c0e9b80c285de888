-- Sessions, one touchpoint each.
-- A session id is UUID v5 of (site, visitor, first event id), so its first event, started_at
-- and the whole ORDER BY key never change: a later write of the same session (more events,
-- a late event) replaces the row through ReplacingMergeTree(version). A session that a late
-- event made disappear (merged into another one) is written once more with deleted = 1.
-- Queries use FINAL (or argMax over version) and `WHERE deleted = 0`.
CREATE TABLE IF NOT EXISTS {db}.sessions
(
    site_id         String,
    session_id      UUID,
    visitor_id      String,
    person_id       String,
    started_at      DateTime,
    ended_at        DateTime,
    landing_url     String,
    landing_path    String,
    referrer        String,
    referrer_domain String,
    source          String,
    medium          String,
    campaign        String,
    term            String,
    content         String,
    click_id_type   String,
    click_id        String,
    channel         String,
    pageviews       UInt32,
    events          UInt32,
    is_bot          UInt8,
    first_event_id  UUID,
    deleted         UInt8,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (site_id, toDate(started_at), visitor_id, session_id);
