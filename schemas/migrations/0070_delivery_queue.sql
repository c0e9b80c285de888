-- Outgoing deliveries (CRM webhooks, Meta Conversions API events), one row per delivery
-- with its current state: pending (waiting for its next attempt), delivered, failed (no
-- attempt is left, or the receiver refused it for good) or dropped (the site no longer
-- sends there, or the person was erased). Every change writes the row again with a higher
-- version; read it with FINAL. The attribution service reloads pending rows when it
-- starts, so a restart loses no delivery; "send again" (POST /api/v1/webhooks/deliveries/
-- {id}/retry) writes the row as pending with no attempts. The payload holds no secret:
-- signatures and access tokens are added when a request is sent. One partition: the rows of
-- a delivery replace each other only within a partition, whatever their times.
CREATE TABLE IF NOT EXISTS {db}.delivery_queue
(
    site_id         String,
    delivery_id     String,
    target          String,
    event           String,
    conversion_id   String,
    url             String,
    payload         String,
    state           String,
    attempts        UInt16,
    next_attempt_at DateTime,
    status          UInt16,
    error           String,
    created_at      DateTime,
    updated_at      DateTime,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, delivery_id);

-- The attempt log names the delivery, where it went and which event it carried.
ALTER TABLE {db}.webhook_deliveries ADD COLUMN delivery_id String, ADD COLUMN target String, ADD COLUMN event String;
