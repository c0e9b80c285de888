-- Daily rollups behind the source report (docs/sql.md, "How the source report stays fast").
-- Not part of the analysts' contract: they are rebuilt from sessions and attributions.
--
-- report_changes: every insert into sessions or attributions records the (UTC) days it
-- touched and when, through the two materialized views below. A day's rollup rows are
-- used only while the day has not changed since they were built; other days are read
-- from sessions and attributions directly.
CREATE TABLE IF NOT EXISTS {db}.report_changes
(
    site_id    String,
    day        Date,
    changed_at DateTime
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY (site_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.report_changes_sessions TO {db}.report_changes AS
SELECT site_id, toDate(started_at, 'UTC') AS day, now() AS changed_at
FROM {db}.sessions
GROUP BY site_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.report_changes_attributions TO {db}.report_changes AS
SELECT site_id, toDate(occurred_at, 'UTC') AS day, now() AS changed_at
FROM {db}.attributions
GROUP BY site_id, day;

-- Days that were stored before this migration have to be built once.
INSERT INTO {db}.report_changes (site_id, day, changed_at)
SELECT site_id, toDate(started_at, 'UTC') AS day, now() FROM {db}.sessions GROUP BY site_id, day;

INSERT INTO {db}.report_changes (site_id, day, changed_at)
SELECT site_id, toDate(occurred_at, 'UTC') AS day, now() FROM {db}.attributions GROUP BY site_id, day;

-- report_builds: one row per built day. The day's rollup rows carry `generation`; they are
-- current while every change of the day is older than built_from (the build's start less
-- a margin for inserts that were still running).
CREATE TABLE IF NOT EXISTS {db}.report_builds
(
    site_id    String,
    day        Date,
    built_from DateTime,
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY (site_id, day);

-- Traffic per day and dimension value: dim is channel, source, campaign, keyword or
-- landing_page. Sessions are counted as in the report (uniq, exact up
-- to 65,536 a day); visitors are a uniqHLL12 state, so that days can be merged.
CREATE TABLE IF NOT EXISTS {db}.report_traffic
(
    site_id    String,
    day        Date,
    dim        String,
    key        String,
    visitors   AggregateFunction(uniqHLL12, String),
    sessions   UInt64,
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dim, day, key);

-- Credit per day (of the conversion), model and dimension value, from each conversion's
-- latest attribution.
CREATE TABLE IF NOT EXISTS {db}.report_credit
(
    site_id     String,
    day         Date,
    model       String,
    dim         String,
    key         String,
    leads       Float64,
    leads_form  Float64,
    leads_call  Float64,
    leads_chat  Float64,
    leads_other Float64,
    sales       Float64,
    revenue     Float64,
    generation  UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, model, dim, day, key);
