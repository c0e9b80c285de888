-- The analysts' starting point (docs/sql.md): views that give each row once, in its latest
-- version, without tombstones (deleted sessions, removed credit) and bots, every person id
-- resolved to the current person, every session id as text (the sessions table stores
-- UUIDs, every other table text), each day as a UTC date, and money also in the site's
-- currency as the reports convert it. They hide FINAL, the alias join and the rate join;
-- the reports API's figures are sums over them (docs/sql.md, "Metrics").
--
-- ClickHouse 18.16 takes one JOIN per SELECT, so each join is a level of its own, and it
-- does not push a filter on a view into the view's FINAL read: a query on a view reads
-- the whole table (docs/sql.md says what that costs). Current versions push filters down.

-- Each site's reporting currency and lookback window, as the attribution service last
-- recorded them.
CREATE VIEW IF NOT EXISTS {db}.sites AS
SELECT site_id, argMax(currency, version) AS currency, argMax(lookback_days, version) AS lookback_days
FROM {db}.site_settings
GROUP BY site_id;

-- The rate the reports convert an amount of `currency` on `day` with: that day's rate,
-- else the latest of the seven days before it (weekends, holidays). Units of `currency`
-- per one unit of `base`: divide by it.
CREATE VIEW IF NOT EXISTS {db}.fx_rates_daily AS
SELECT site_id, base, currency, day, argMax(rate, date) AS rate
FROM
(
    SELECT site_id, base, currency, date, rate, date + arrayJoin(range(8)) AS day
    FROM {db}.fx_rates FINAL
)
GROUP BY site_id, base, currency, day;

-- Every visitor id the site has seen and the person it belongs to now.
CREATE VIEW IF NOT EXISTS {db}.people AS
SELECT site_id, visitor_id, person AS person_id
FROM
(
    SELECT site_id, visitor_id, if(current_person_id != '', current_person_id, person_id) AS person
    FROM
    (
        -- Every person id stored for a visitor resolves to the same current person.
        SELECT site_id, visitor_id, any(person_id) AS person_id
        FROM
        (
            SELECT site_id, visitor_id, person_id FROM {db}.sessions
            UNION ALL
            SELECT site_id, visitor_id, person_id FROM {db}.identities WHERE visitor_id != ''
            UNION ALL
            SELECT site_id, visitor_id, person_id FROM {db}.conversions WHERE visitor_id != ''
        )
        GROUP BY site_id, visitor_id
    ) AS visitors
    ANY LEFT JOIN
    (
        SELECT site_id, person_id, current_person_id FROM {db}.person_current
    ) AS aliases USING (site_id, person_id)
);

-- Identity links (visitor id, email hash, user id) with the person they belong to now:
-- who owns an email address.
CREATE VIEW IF NOT EXISTS {db}.identities_current AS
SELECT site_id, visitor_id, person AS person_id, email_sha256, user_id, linked_at, event_id
FROM
(
    SELECT site_id, visitor_id, if(current_person_id != '', current_person_id, person_id) AS person, email_sha256, user_id,
        linked_at, event_id
    FROM
    (
        SELECT site_id, visitor_id, person_id, email_sha256, user_id, linked_at, event_id
        FROM {db}.identities FINAL
    ) AS links
    ANY LEFT JOIN
    (
        SELECT site_id, person_id, current_person_id FROM {db}.person_current
    ) AS aliases USING (site_id, person_id)
);

-- Sessions (touchpoints) as the reports count them: no bots, none folded into another.
CREATE VIEW IF NOT EXISTS {db}.sessions_current AS
SELECT site_id, sid AS session_id, visitor_id, person AS person_id, started_at, ended_at, toDate(started_at, 'UTC') AS day,
    landing_url, landing_path, referrer, referrer_domain, source, medium, campaign, term, content, click_id_type, click_id, channel,
    pageviews, events, first_event_id, country, device
FROM
(
    SELECT site_id, sid, visitor_id, if(current_person_id != '', current_person_id, person_id) AS person, started_at, ended_at,
        landing_url, landing_path, referrer, referrer_domain, source, medium, campaign, term, content, click_id_type, click_id,
        channel, pageviews, events, first_event_id, country, device
    FROM
    (
        SELECT site_id, toString(session_id) AS sid, visitor_id, person_id, started_at, ended_at, landing_url, landing_path, referrer,
            referrer_domain, source, medium, campaign, term, content, click_id_type, click_id, channel, pageviews, events,
            first_event_id, country, device, deleted, is_bot
        FROM {db}.sessions FINAL
    ) AS versions
    ANY LEFT JOIN
    (
        SELECT site_id, person_id, current_person_id FROM {db}.person_current
    ) AS aliases USING (site_id, person_id)
    WHERE deleted = 0 AND is_bot = 0
);

-- Leads, sales and stages as attribution and the reports count them (no bot's), with the
-- value also in the site's currency.
CREATE VIEW IF NOT EXISTS {db}.conversions_current AS
SELECT site_id, conversion_id, type, lead_type, occurred_at, day, received_at, visitor_id, person AS person_id, email_sha256, user_id,
    session_id, value, cur AS currency, site_currency, if(cur = site_currency, value, if(rate > 0, value / rate, 0)) AS value_site,
    cur != site_currency AND NOT (rate > 0) AS unconverted, props, event_id, origin
FROM
(
    SELECT *
    FROM
    (
        SELECT site_id, conversion_id, type, lead_type, occurred_at, toDate(occurred_at, 'UTC') AS day, received_at, visitor_id,
            person, email_sha256, user_id, session_id, value, if(reporting = '', 'EUR', reporting) AS site_currency,
            if(recorded = '', site_currency, upper(recorded)) AS cur, props, event_id, origin
        FROM
        (
            SELECT site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id,
                if(current_person_id != '', current_person_id, person_id) AS person, email_sha256, user_id, session_id, value,
                recorded, props, event_id, origin
            FROM
            (
                SELECT site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id, email_sha256,
                    user_id, session_id, value, currency AS recorded, props, event_id, origin, is_bot
                FROM {db}.conversions FINAL
            ) AS versions
            ANY LEFT JOIN
            (
                SELECT site_id, person_id, current_person_id FROM {db}.person_current
            ) AS aliases USING (site_id, person_id)
            WHERE is_bot = 0
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

-- Every model's current credit: the rows of each conversion's latest computation that
-- carry credit, with revenue also in the site's currency.
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
                channel, source, medium, campaign, term, content, landing_page, country, device, credit, revenue, recorded,
                computed_at
            FROM
            (
                SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, model, session_id,
                    touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, credit, revenue,
                    currency AS recorded, computed_at, removed
                FROM {db}.attributions FINAL
            ) AS versions
            ANY LEFT JOIN
            (
                SELECT site_id, person_id, current_person_id FROM {db}.person_current
            ) AS aliases USING (site_id, person_id)
            WHERE removed = 0
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

-- Ad cost per campaign and day as the reports count it: a campaign's cost of a day may be
-- imported as a campaign row, ad group rows and keyword rows; read as a tree, each level
-- costs the larger of its own row and the sum of the rows below it (clicks and
-- impressions too), so nothing is counted twice. Rows in different currencies are
-- separate trees.
CREATE VIEW IF NOT EXISTS {db}.campaign_costs AS
SELECT site_id, day, channel, source, medium, campaign, cur AS currency, cost, clicks, impressions, site_currency,
    if(cur = site_currency, cost, if(rate > 0, cost / rate, 0)) AS cost_site, cur != site_currency AND NOT (rate > 0) AS unconverted
FROM
(
    SELECT *
    FROM
    (
        SELECT site_id, day, channel, source, medium, campaign, if(reporting = '', 'EUR', reporting) AS site_currency,
            if(recorded = '', site_currency, recorded) AS cur, cost, clicks, impressions
        FROM
        (
            SELECT site_id, date AS day, channel, source, medium, campaign, recorded,
                greatest(sumIf(own_cost, ad_group = ''), sum(if(ad_group = '', below_cost, greatest(own_cost, below_cost)))) AS cost,
                greatest(sumIf(own_clicks, ad_group = ''), sum(if(ad_group = '', below_clicks, greatest(own_clicks, below_clicks)))) AS clicks,
                greatest(sumIf(own_impr, ad_group = ''), sum(if(ad_group = '', below_impr, greatest(own_impr, below_impr)))) AS impressions
            FROM
            (
                -- per campaign, day and ad group ('' holds the campaign's own row and keywords without an ad group)
                SELECT site_id, date, channel, source, medium, campaign, ad_group, upper(currency) AS recorded,
                    sumIf(cost, term = '') AS own_cost, sumIf(cost, term != '') AS below_cost,
                    sumIf(clicks, term = '') AS own_clicks, sumIf(clicks, term != '') AS below_clicks,
                    sumIf(impressions, term = '') AS own_impr, sumIf(impressions, term != '') AS below_impr
                FROM {db}.ad_costs FINAL
                GROUP BY site_id, date, channel, source, medium, campaign, ad_group, recorded
            )
            GROUP BY site_id, date, channel, source, medium, campaign, recorded
        ) AS trees
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

-- Ad cost of keywords, per keyword row and day: what the source report grouped by keyword
-- places in the keywords' rows.
CREATE VIEW IF NOT EXISTS {db}.keyword_costs AS
SELECT site_id, day, channel, source, medium, campaign, ad_group, keyword, cur AS currency, cost, clicks, impressions, site_currency,
    if(cur = site_currency, cost, if(rate > 0, cost / rate, 0)) AS cost_site, cur != site_currency AND NOT (rate > 0) AS unconverted
FROM
(
    SELECT *
    FROM
    (
        SELECT site_id, date AS day, channel, source, medium, campaign, ad_group, term AS keyword,
            if(reporting = '', 'EUR', reporting) AS site_currency, if(recorded = '', site_currency, recorded) AS cur, cost, clicks,
            impressions
        FROM
        (
            SELECT site_id, date, channel, source, medium, campaign, ad_group, term, upper(currency) AS recorded, cost, clicks, impressions
            FROM {db}.ad_costs FINAL
            WHERE term != ''
        ) AS keywords
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

-- A calendar, 2000-01-01 to 2099-12-31, for time series without gaps (ClickHouse 18.16 has
-- no WITH FILL): join counts per day, week, month or quarter to it.
CREATE VIEW IF NOT EXISTS {db}.dates AS
SELECT date, toMonday(date) AS week, toStartOfMonth(date) AS month, toStartOfQuarter(date) AS quarter, toYear(date) AS year
FROM
(
    SELECT toDate('2000-01-01') + number AS date FROM system.numbers LIMIT 36525
);
