-- Every CRM webhook attempt: what was sent where, the answer, and whether it will be retried.
-- Admins read it through GET /api/v1/webhooks/deliveries.
CREATE TABLE IF NOT EXISTS {db}.webhook_deliveries
(
    site_id       String,
    conversion_id String,
    url           String,
    attempt       UInt16,
    status        UInt16,
    error         String,
    delivered     UInt8,
    next_retry_at DateTime,
    payload       String,
    at            DateTime
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (site_id, conversion_id, at, attempt);
