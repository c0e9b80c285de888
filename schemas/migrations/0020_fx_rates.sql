-- Exchange rates loaded through POST /api/v1/fx-rates: how many units of `currency` one
-- unit of `base` (the site's reporting currency when they were loaded) buys on `date`,
-- as in the ECB's reference files (base EUR, USD 1.08: 100 USD = 92.59 EUR). The reports
-- convert conversions and costs in other currencies with the rate of their date. Loading
-- the same site, base, currency and date again replaces the rate.
CREATE TABLE IF NOT EXISTS {db}.fx_rates
(
    site_id     String,
    date        Date,
    base        String,
    currency    String,
    rate        Float64,
    imported_at DateTime,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, base, currency, date);
