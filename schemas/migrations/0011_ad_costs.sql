-- Ad spend per day and campaign, imported through POST /api/v1/costs.
-- Importing the same day, channel, source, medium and campaign again replaces the cost.
CREATE TABLE IF NOT EXISTS {db}.ad_costs
(
    site_id     String,
    date        Date,
    channel     String,
    source      String,
    medium      String,
    campaign    String,
    cost        Float64,
    currency    String,
    imported_at DateTime,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, channel, source, medium, campaign);
