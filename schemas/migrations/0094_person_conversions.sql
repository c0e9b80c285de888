-- Which conversions each person has: every conversion id under each person id any of its
-- versions was written with. A person's journey lists their conversions by it instead of
-- reading the person id of every conversion: over a million conversions, 0.01 s against
-- 0.11 s (0.17 s of CPU), the journey's largest read.
-- Derived from conversions by the view below; an erasure deletes from it too.
CREATE TABLE IF NOT EXISTS {db}.person_conversions
(
    site_id       String,
    person_id     String,
    conversion_id String,
    received_at   DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, person_id, conversion_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.person_conversions_of_conversions TO {db}.person_conversions AS
SELECT site_id, person_id, conversion_id, received_at
FROM {db}.conversions
WHERE person_id != '';

-- The conversions stored before the view. Those written meanwhile come twice, which the
-- table's key folds.
INSERT INTO {db}.person_conversions (site_id, person_id, conversion_id, received_at)
SELECT site_id, person_id, conversion_id, received_at
FROM {db}.conversions
WHERE person_id != '';
