-- The identity graph: one row per observed link between a visitor id
-- and an email hash and/or a user id (an identify event, a form, a server call). Server calls
-- without a visitor id have visitor_id = ''. The same link seen again collapses into one row
-- that keeps its first linked_at (version = 2^64-1 - linked_at in ms).
-- person_id is the person when the link was written; resolve it through person_aliases.
CREATE TABLE IF NOT EXISTS {db}.identities
(
    site_id      String,
    visitor_id   String,
    person_id    String,
    email_sha256 String,
    user_id      String,
    linked_at    DateTime,
    event_id     UUID,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, visitor_id, email_sha256, user_id);

-- Every person id ever written that is no longer current points at its current person.
-- A person absent here is current. Rewritten (newer version) when persons merge again,
-- so one lookup always reaches the current person.
CREATE TABLE IF NOT EXISTS {db}.person_aliases
(
    site_id           String,
    person_id         String,
    current_person_id String,
    updated_at        DateTime,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, person_id);

-- History of merges: person_id was merged into merged_into because of the link in the
-- event event_id (visitor_id, email_sha256, user_id).
CREATE TABLE IF NOT EXISTS {db}.person_merges
(
    site_id      String,
    person_id    String,
    merged_into  String,
    merged_at    DateTime,
    event_id     UUID,
    visitor_id   String,
    email_sha256 String,
    user_id      String
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, person_id, merged_into);

-- The current person of every aliased person id; join any stored person_id to it
-- (LEFT JOIN ... USING (site_id, person_id), then if(current_person_id != '', current_person_id, person_id)).
CREATE VIEW IF NOT EXISTS {db}.person_current AS
SELECT site_id, person_id, argMax(current_person_id, version) AS current_person_id
FROM {db}.person_aliases
GROUP BY site_id, person_id;
