-- Identity links made by the site's servers (/v1/identify, /v1/conversions, /v1/import),
-- which `identities` records too. A person holding an identifier of one of them is
-- server-owned: a browser's link never joins that person with anyone else. The same link
-- seen again collapses into one row that keeps its first linked_at, as in `identities`.
CREATE TABLE IF NOT EXISTS {db}.server_links
(
    site_id      String,
    visitor_id   String,
    email_sha256 String,
    user_id      String,
    linked_at    DateTime,
    event_id     UUID,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, visitor_id, email_sha256, user_id);

-- Links stored before: those whose event came from a server call or an import.
INSERT INTO {db}.server_links (site_id, visitor_id, email_sha256, user_id, linked_at, event_id, version)
SELECT site_id, visitor_id, email_sha256, user_id, linked_at, event_id, version
FROM {db}.identities
WHERE event_id IN (SELECT event_id FROM {db}.events WHERE origin IN ('server', 'import'));
