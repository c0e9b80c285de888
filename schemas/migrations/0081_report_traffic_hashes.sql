-- The traffic rollups keep each day's visitors as an array of the visitor ids' 64-bit
-- hashes (cityHash64), distinct within the row, instead of a uniqExact state: the report
-- counts the distinct hashes of the days it reads with uniqExactArray. A state is rebuilt
-- as a hash set when it is read and then merged into the result, an array is merged
-- straight in: over 10 million sessions and 160 days the channel report's visitors took
-- 0.9 s instead of 1.6 to 1.9 s (ClickHouse 18.16, one thread), at the same size on disk.
-- The rollups are derived data: the table is dropped, and forgetting every build makes
-- the attribution service build each day again (until then the report reads sessions
-- and attributions).
DROP TABLE IF EXISTS {db}.report_traffic;

TRUNCATE TABLE {db}.report_builds;

-- Traffic per day and dimension value (dim: channel, source, campaign, keyword,
-- landing_page, country or device). Sessions are counted exactly per day (a session
-- belongs to the day it started). A row holds a day's visitors, so granules are small:
-- with the default 8,192 rows, reading one dimension read the visitors of all seven.
CREATE TABLE IF NOT EXISTS {db}.report_traffic
(
    site_id    String,
    day        Date,
    dim        String,
    key        String,
    visitors   Array(UInt64),
    sessions   UInt64,
    generation UInt64
)
ENGINE = ReplacingMergeTree(generation)
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dim, day, key)
SETTINGS index_granularity = 64;
