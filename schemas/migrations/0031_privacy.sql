-- Erasure of a person (POST /api/v1/privacy/erase, docs/privacy.md).
--
-- erased_identifiers: every visitor id, email hash and user id of an erased person, as
-- id_sha256 = SHA-256 of "site \0 kind \0 identifier" (kind v, e or u; an email is its
-- email_sha256), never the identifier itself. The stitcher drops events of these
-- identifiers that the collector received before erased_at, so events still on Kafka or
-- in a collector's spool do not bring the person back.
CREATE TABLE IF NOT EXISTS {db}.erased_identifiers
(
    site_id    String,
    id_sha256  String,
    erased_at  DateTime,
    erasure_id UUID
)
ENGINE = ReplacingMergeTree(erased_at)
ORDER BY (site_id, id_sha256);

-- privacy_erasures: the audit record of each erasure. The identifier asked for is kept
-- only as identifier_hash = hex SHA-256 of (salt, kind, identifier) with a random salt of
-- its own, so a later request about the same identifier can be matched, while the table
-- says nothing about whom it was. requested_by is the token id that asked ("admin" for
-- the configuration's admin token). tables/rows are the rows removed per table.
CREATE TABLE IF NOT EXISTS {db}.privacy_erasures
(
    site_id         String,
    erasure_id      UUID,
    kind            String,
    identifier_hash String,
    salt            String,
    requested_by    String,
    requested_at    DateTime,
    finished_at     DateTime,
    status          String,
    error           String,
    tables          Array(String),
    rows            Array(UInt64),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, erasure_id);
