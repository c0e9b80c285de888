-- report_builds records the format of the rollup rows each build wrote: 1 since the
-- drill-down rows (migration 0082). While an attribution service of an earlier version
-- still runs beside a newer one (a rolling upgrade), it builds days without drill-down
-- rows and records them like any build; the format tells the reports to read such a day
-- from sessions and attributions, and the newer service to build it again. The table is
-- bookkeeping of derived data: it is dropped, and every day is built again.
DROP TABLE IF EXISTS {db}.report_builds;

CREATE TABLE IF NOT EXISTS {db}.report_builds
(
    site_id    String,
    day        Date,
    built_from DateTime,
    generation UInt64,
    format     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY (site_id, day);
