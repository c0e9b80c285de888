-- The version of every computation of a conversion's credit: one row where touch_credits
-- has one per touch. The reports keep the touch_credits rows of each conversion's highest
-- version. Finding it here reads a fifth of the rows (a conversion has about five
-- touches), and a range of days reads only its own, as the key starts with the site and
-- the time: over a million conversions, 200 days' versions took 0.25 s against 0.38 s in
-- touch_credits, and the lifecycle report's read of its leads a fifth less CPU.
-- Derived from touch_credits by the view below; an erasure deletes from it too. Its key
-- keeps the highest version of each conversion at each time: a conversion whose time
-- changed has a row under each, and readers take the highest version per conversion
-- among the rows of their days, as they do in touch_credits.
CREATE TABLE IF NOT EXISTS {db}.touch_credit_versions
(
    site_id       String,
    occurred_at   DateTime,
    conversion_id String,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site_id, occurred_at, conversion_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.touch_credit_versions_of_credits TO {db}.touch_credit_versions AS
SELECT site_id, occurred_at, conversion_id, max(version) AS version
FROM {db}.touch_credits
GROUP BY site_id, occurred_at, conversion_id;

-- The credit stored before the view. Computations written meanwhile come twice, which the
-- table's key folds.
INSERT INTO {db}.touch_credit_versions (site_id, occurred_at, conversion_id, version)
SELECT site_id, occurred_at, conversion_id, max(version)
FROM {db}.touch_credits
GROUP BY site_id, occurred_at, conversion_id;
