-- Raw events, one row per event id.
-- ReplacingMergeTree keeps one row per (site, day, visitor, event id): a replayed or re-sent
-- event collapses into one. Until parts merge, queries that count use FINAL or argMax(version).
-- `version` grows with each write so the latest stitcher view of an event wins.
CREATE TABLE IF NOT EXISTS {db}.events
(
    site_id       String,
    event_id      UUID,
    event_type    String,
    visitor_id    String,
    person_id     String,
    session_id    String,
    ts            DateTime,
    received_at   DateTime,
    url           String,
    path          String,
    referrer      String,
    title         String,
    event_name    String,
    utm_source    String,
    utm_medium    String,
    utm_campaign  String,
    utm_term      String,
    utm_content   String,
    click_id_type String,
    click_id      String,
    props         String,
    country       String,
    region        String,
    city          String,
    browser       String,
    os            String,
    device        String,
    is_bot        UInt8,
    screen        String,
    language      String,
    timezone      String,
    ip            String,
    origin        String,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), visitor_id, event_id);
