-- Credit per conversion and touchpoint, with every model's credit in a column of its own
-- (credit_first_click … credit_data_driven), replacing attributions' row per model.
-- The seven rows of a touch repeated the conversion and the touch and differed only in
-- model, credit and revenue: one row holds the same, in a quarter of the rows and of the
-- space, and a rebuild writes it in a fraction of the time.
--
-- One row per (site, conversion, session); a recomputation writes every row again with a
-- higher version, and a touch that dropped out of the journey gets a row with every
-- credit 0 and removed = 1. A touch can carry credit under some models only: a model's
-- credited touches are the rows with removed = 0 and its credit above 0. Query with FINAL
-- (or the rows of each conversion's highest version). A model's revenue for the touch is
-- value × its credit, in currency. The synthetic Direct touch of a conversion without
-- touchpoints has session_id ''.
CREATE TABLE IF NOT EXISTS {db}.touch_credits
(
    site_id                String,
    conversion_id          String,
    conversion_type        String,
    lead_type              String,
    occurred_at            DateTime,
    person_id              String,
    visitor_id             String,
    session_id             String,
    touch_at               DateTime,
    channel                String,
    source                 String,
    medium                 String,
    campaign               String,
    term                   String,
    content                String,
    landing_page           String,
    country                String,
    device                 String,
    value                  Float64,
    currency               String,
    credit_first_click     Float64,
    credit_last_click      Float64,
    credit_last_non_direct Float64,
    credit_linear          Float64,
    credit_time_decay      Float64,
    credit_position_based  Float64,
    credit_data_driven     Float64,
    removed                UInt8,
    computed_at            DateTime,
    version                UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site_id, conversion_id, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.report_changes_credits TO {db}.report_changes AS
SELECT site_id, toDate(occurred_at, 'UTC') AS day, now() AS changed_at
FROM {db}.touch_credits
GROUP BY site_id, day;

-- The current rows of attributions, folded: a touch's row per model becomes its credit
-- column, revenue / credit gives back the conversion's value, and the touch is removed
-- when it is removed under every model. A removed row has no touch fields (channel '',
-- …): they come from the rows with credit. Every row of a conversion's computation
-- carries its version, so the folded row keeps it.
INSERT INTO {db}.touch_credits (site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, session_id,
    touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, value, currency, credit_first_click,
    credit_last_click, credit_last_non_direct, credit_linear, credit_time_decay, credit_position_based, credit_data_driven, removed,
    computed_at, version)
SELECT site_id, conversion_id, argMax(conversion_type, version), argMax(lead_type, version), argMax(occurred_at, version),
    argMax(person_id, version), argMaxIf(visitor_id, version, removed = 0), session_id,
    if(min(removed) = 1, argMax(touch_at, version), argMaxIf(touch_at, version, removed = 0)), argMaxIf(channel, version, removed = 0),
    argMaxIf(source, version, removed = 0), argMaxIf(medium, version, removed = 0), argMaxIf(campaign, version, removed = 0),
    argMaxIf(term, version, removed = 0), argMaxIf(content, version, removed = 0), argMaxIf(landing_page, version, removed = 0),
    argMaxIf(country, version, removed = 0), argMaxIf(device, version, removed = 0),
    argMax(if(credit != 0, revenue / credit, 0), credit != 0), argMax(currency, version),
    sumIf(credit, removed = 0 AND model = 'first_click'), sumIf(credit, removed = 0 AND model = 'last_click'),
    sumIf(credit, removed = 0 AND model = 'last_non_direct'), sumIf(credit, removed = 0 AND model = 'linear'),
    sumIf(credit, removed = 0 AND model = 'time_decay'), sumIf(credit, removed = 0 AND model = 'position_based'),
    sumIf(credit, removed = 0 AND model = 'data_driven'), min(removed), max(computed_at), max(version)
FROM
(
    SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, model, session_id, touch_at,
        channel, source, medium, campaign, term, content, landing_page, country, device, credit, revenue, currency, removed,
        computed_at, version
    FROM {db}.attributions FINAL
)
GROUP BY site_id, conversion_id, session_id;

DROP TABLE IF EXISTS {db}.report_changes_attributions;

DROP TABLE IF EXISTS {db}.attributions_current;

DROP TABLE IF EXISTS {db}.attributions;

-- Every model's current credit, a row per model and credited touch as before: the
-- analysts' view keeps its columns (docs/sql.md).
CREATE VIEW IF NOT EXISTS {db}.attributions_current AS
SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, day, person AS person_id, visitor_id, model, session_id,
    touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, credit, revenue, cur AS currency,
    site_currency, if(cur = site_currency, revenue, if(rate > 0, revenue / rate, 0)) AS revenue_site,
    cur != site_currency AND NOT (rate > 0) AS unconverted, computed_at
FROM
(
    SELECT *
    FROM
    (
        SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, toDate(occurred_at, 'UTC') AS day, person, visitor_id,
            model, session_id, touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, credit,
            revenue, if(reporting = '', 'EUR', reporting) AS site_currency, if(recorded = '', site_currency, upper(recorded)) AS cur,
            computed_at
        FROM
        (
            SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at,
                if(current_person_id != '', current_person_id, person_id) AS person, visitor_id, model, session_id, touch_at,
                channel, source, medium, campaign, term, content, landing_page, country, device, credit, value * credit AS revenue,
                recorded, computed_at
            FROM
            (
                SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, model, session_id,
                    touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, credit, value,
                    currency AS recorded, computed_at
                FROM
                (
                    SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, session_id,
                        touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, value, currency,
                        credit_first_click, credit_last_click, credit_last_non_direct, credit_linear, credit_time_decay,
                        credit_position_based, credit_data_driven, removed, computed_at
                    FROM {db}.touch_credits FINAL
                )
                ARRAY JOIN
                    ['first_click', 'last_click', 'last_non_direct', 'linear', 'time_decay', 'position_based', 'data_driven'] AS model,
                    [credit_first_click, credit_last_click, credit_last_non_direct, credit_linear, credit_time_decay,
                        credit_position_based, credit_data_driven] AS credit
                WHERE removed = 0 AND credit > 0
            ) AS versions
            ANY LEFT JOIN
            (
                SELECT site_id, person_id, current_person_id FROM {db}.person_current
            ) AS aliases USING (site_id, person_id)
        ) AS live
        ANY LEFT JOIN
        (
            SELECT site_id, currency AS reporting FROM {db}.sites
        ) AS settings USING site_id
    ) AS priced
    ANY LEFT JOIN
    (
        SELECT site_id, base AS site_currency, currency AS cur, day, rate FROM {db}.fx_rates_daily
    ) AS rates USING (site_id, site_currency, cur, day)
);
