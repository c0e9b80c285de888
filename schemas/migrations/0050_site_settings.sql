-- The settings of each site that queries need and the site file holds: the reporting
-- currency money is converted into, and the lookback window of attribution. The
-- attribution service writes them at start and whenever they change, so SQL can convert
-- money and bound journeys as the reports do (the `sites` view reads them).
CREATE TABLE IF NOT EXISTS {db}.site_settings
(
    site_id       String,
    currency      String,
    lookback_days UInt32,
    updated_at    DateTime,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY site_id;
