-- Tracking numbers handed to visitors (call tracking): one row per lease, written when the
-- collector grants it and again, with a later leased_to, while the visitor's page keeps it.
-- session_id is the visitor's session when the lease was granted. A call to `number` at a
-- time between leased_from and leased_to was made by that visitor's session; the collector
-- matches calls with its lease store, this table keeps the record for audits and analysis.
CREATE TABLE IF NOT EXISTS {db}.number_leases
(
    site_id     String,
    number      String,
    pool        String,
    lease_id    UUID,
    visitor_id  String,
    session_id  String,
    leased_from DateTime,
    leased_to   DateTime,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(leased_from)
ORDER BY (site_id, number, leased_from, lease_id);
