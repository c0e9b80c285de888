-- The analysts' views (migration 0052) on rows as the services write them, with what makes
-- hand-written SQL go wrong: row versions, tombstones, bots, merged persons, currencies
-- in lower case or none, weekend rates, stale rates, another base, costs imported at
-- several levels. Each check fails (throwIf) when a view is wrong. Run on ClickHouse 18.16
-- by schemas/views_test.go and on a current engine by scripts/check_schema.py.

-- Site fx reports in EUR (its setting changed from GBP); site bare has no settings yet.
INSERT INTO {db}.site_settings (site_id, currency, lookback_days, updated_at, version) VALUES
    ('fx', 'GBP', 30, '2026-09-01 00:00:00', 1), ('fx', 'EUR', 90, '2026-10-01 00:00:00', 2);

-- Sessions: s1 rewritten with more events and its channel, s3 folded into another (deleted),
-- s4 found to be a bot's, s5 started late on Sunday evening (UTC), s6 of a person merged
-- into p1 (p2 → pX first, then → p1).
INSERT INTO {db}.sessions (site_id, session_id, visitor_id, person_id, started_at, ended_at, channel, source, medium, campaign,
    pageviews, events, is_bot, deleted, version) VALUES
    ('fx', '11111111-1111-4111-8111-111111111111', 'v1', 'p1', '2026-10-05 10:00:00', '2026-10-05 10:01:00', '(none)', '', '', '', 1, 1, 0, 0, 1),
    ('fx', '11111111-1111-4111-8111-111111111111', 'v1', 'p1', '2026-10-05 10:00:00', '2026-10-05 10:09:00', 'Paid Search', 'google', 'cpc', 'brand', 3, 4, 0, 0, 2),
    ('fx', '33333333-3333-4333-8333-333333333333', 'v1', 'p1', '2026-10-05 12:00:00', '2026-10-05 12:00:00', 'Email', 'news', 'email', '', 1, 1, 0, 0, 1),
    ('fx', '33333333-3333-4333-8333-333333333333', 'v1', 'p1', '2026-10-05 12:00:00', '2026-10-05 12:00:00', '', '', '', '', 0, 0, 0, 1, 2),
    ('fx', '44444444-4444-4444-8444-444444444444', 'v4', 'p4', '2026-10-05 13:00:00', '2026-10-05 13:00:00', 'Direct', '(direct)', '(none)', '', 1, 1, 0, 0, 1),
    ('fx', '44444444-4444-4444-8444-444444444444', 'v4', 'p4', '2026-10-05 13:00:00', '2026-10-05 13:05:00', 'Direct', '(direct)', '(none)', '', 2, 2, 1, 0, 2),
    ('fx', '55555555-5555-4555-8555-555555555555', 'v5', 'p5', '2026-10-04 23:30:00', '2026-10-04 23:59:00', 'Referral', 'g2.com', 'referral', '', 1, 1, 0, 0, 1),
    ('fx', '66666666-6666-4666-8666-666666666666', 'v2', 'p2', '2026-10-06 09:00:00', '2026-10-06 09:00:00', 'Organic Search', 'google', 'organic', '', 1, 1, 0, 0, 1);

INSERT INTO {db}.person_aliases (site_id, person_id, current_person_id, updated_at, version) VALUES
    ('fx', 'p2', 'pX', '2026-10-06 09:00:00', 1), ('fx', 'p2', 'p1', '2026-10-07 09:00:00', 2), ('fx', 'pX', 'p1', '2026-10-07 09:00:00', 2);

-- v3 is known from an identity link only.
INSERT INTO {db}.identities (site_id, visitor_id, person_id, email_sha256, user_id, linked_at, event_id, version) VALUES
    ('fx', 'v3', 'p3', 'e3', '', '2026-10-05 10:00:00', '77777777-7777-4777-8777-777777777777', 1);

-- Conversions: sales in lower-case usd on a Sunday (Friday's rate applies), in CHF (no
-- rate), without a currency (the site's), in USD long after the last rate; a bot's lead;
-- a lead whose time the CRM corrected; a sale of the merged person p2.
INSERT INTO {db}.conversions (site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id, value,
    currency, is_bot, origin, version) VALUES
    ('fx', 'sale-usd', 'sale', '', '2026-10-04 12:00:00', '2026-10-04 12:00:00', 'v1', 'p1', 100, 'usd', 0, 'server', 1),
    ('fx', 'sale-chf', 'sale', '', '2026-10-05 12:00:00', '2026-10-05 12:00:00', 'v1', 'p1', 300, 'CHF', 0, 'server', 1),
    ('fx', 'sale-own', 'sale', '', '2026-10-05 14:00:00', '2026-10-05 14:00:00', 'v1', 'p1', 70, '', 0, 'server', 1),
    ('fx', 'sale-stale', 'sale', '', '2026-10-20 12:00:00', '2026-10-20 12:00:00', 'v1', 'p1', 10, 'USD', 0, 'server', 1),
    ('fx', 'lead-bot', 'lead', 'form', '2026-10-05 13:00:00', '2026-10-05 13:00:00', 'v4', 'p4', 0, '', 1, 'web', 1),
    ('fx', 'lead-fixed', 'lead', 'call', '2026-10-05 15:00:00', '2026-10-05 15:00:00', 'v1', 'p1', 0, '', 0, 'server', 1),
    ('fx', 'lead-fixed', 'lead', 'call', '2026-10-07 15:00:00', '2026-10-07 16:00:00', 'v1', 'p1', 0, '', 0, 'server', 2),
    ('fx', 'sale-p2', 'sale', '', '2026-10-06 10:00:00', '2026-10-06 10:00:00', 'v2', 'p2', 40, 'EUR', 0, 'server', 1),
    ('bare', 'sale-bare', 'sale', '', '2026-10-05 12:00:00', '2026-10-05 12:00:00', 'w1', 'q1', 25, '', 0, 'server', 1);

-- Rates: USD per EUR on Thursday and Friday, none on the weekend; GBP; rates against the
-- old base GBP, which a EUR site never uses.
INSERT INTO {db}.fx_rates (site_id, date, base, currency, rate, imported_at, version) VALUES
    ('fx', '2026-10-01', 'EUR', 'USD', 1.2, '2026-10-03 00:00:00', 1),
    ('fx', '2026-10-02', 'EUR', 'USD', 1.0, '2026-10-03 00:00:00', 1),
    ('fx', '2026-10-02', 'EUR', 'USD', 1.25, '2026-10-03 00:00:00', 2),
    ('fx', '2026-10-05', 'EUR', 'GBP', 0.8, '2026-10-06 00:00:00', 1),
    ('fx', '2026-10-02', 'GBP', 'USD', 1.5, '2026-09-03 00:00:00', 1),
    ('fx', '2026-10-05', 'GBP', 'CHF', 1.1, '2026-09-03 00:00:00', 1);

-- Credit: lead-fixed first went to s1 (version 10), then to s6 (version 20: s1 removed);
-- sale-usd is credited half to s1 and half to s6 (linear) and in full to nothing in its
-- lookback (first_click (no touchpoint)), the way the engine writes them.
INSERT INTO {db}.touch_credits (site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, session_id, visitor_id,
    touch_at, channel, value, currency, credit_first_click, credit_linear, removed, computed_at, version) VALUES
    ('fx', 'lead-fixed', 'lead', 'call', '2026-10-07 15:00:00', 'p1', '11111111-1111-4111-8111-111111111111', 'v1', '2026-10-05 10:00:00', 'Paid Search', 0, '', 1, 0, 0, '2026-10-07 15:00:00', 10),
    ('fx', 'lead-fixed', 'lead', 'call', '2026-10-07 15:00:00', 'p1', '66666666-6666-4666-8666-666666666666', 'v2', '2026-10-06 09:00:00', 'Organic Search', 0, '', 1, 0, 0, '2026-10-07 15:00:00', 20),
    ('fx', 'lead-fixed', 'lead', 'call', '2026-10-07 15:00:00', 'p1', '11111111-1111-4111-8111-111111111111', '', '2026-10-07 15:00:00', '', 0, '', 0, 0, 1, '2026-10-07 15:00:00', 20),
    ('fx', 'sale-usd', 'sale', '', '2026-10-04 12:00:00', 'p2', '11111111-1111-4111-8111-111111111111', 'v1', '2026-10-05 10:00:00', 'Paid Search', 100, 'usd', 0, 0.5, 0, '2026-10-04 12:00:00', 30),
    ('fx', 'sale-usd', 'sale', '', '2026-10-04 12:00:00', 'p2', '66666666-6666-4666-8666-666666666666', 'v2', '2026-10-06 09:00:00', 'Organic Search', 100, 'usd', 0, 0.5, 0, '2026-10-04 12:00:00', 30),
    ('fx', 'sale-usd', 'sale', '', '2026-10-04 12:00:00', 'p2', '', '', '2026-10-04 12:00:00', '(no touchpoint)', 100, 'usd', 1, 0, 0, '2026-10-04 12:00:00', 30);

-- Cost of campaign brand on Oct 5 as a campaign row (60) and a keyword report (50, less
-- than the campaign spent); campaign generic as keyword rows only (two imports of one of
-- them: the later counts); campaign uk in GBP.
INSERT INTO {db}.ad_costs (site_id, date, channel, source, medium, campaign, ad_group, term, cost, currency, clicks, impressions,
    imported_at, version) VALUES
    ('fx', '2026-10-05', 'Paid Search', 'google', 'cpc', 'brand', '', '', 60, 'EUR', 16, 160, '2026-10-06 00:00:00', 1),
    ('fx', '2026-10-05', 'Paid Search', 'google', 'cpc', 'brand', 'Brand', 'acme crm', 50, 'EUR', 15, 150, '2026-10-06 00:00:00', 1),
    ('fx', '2026-10-05', 'Paid Search', 'google', 'cpc', 'generic', 'CRM', 'best crm', 20, 'EUR', 5, 50, '2026-10-06 00:00:00', 1),
    ('fx', '2026-10-05', 'Paid Search', 'google', 'cpc', 'generic', 'CRM', 'crm', 7, 'EUR', 1, 10, '2026-10-06 00:00:00', 1),
    ('fx', '2026-10-05', 'Paid Search', 'google', 'cpc', 'generic', 'CRM', 'crm', 9, 'EUR', 2, 20, '2026-10-07 00:00:00', 2),
    ('fx', '2026-10-05', 'Paid Social', 'facebook', 'paid_social', 'uk', '', '', 8, 'gbp', 4, 40, '2026-10-06 00:00:00', 1);

-- The site's latest settings; a site without settings reports in EUR.
SELECT throwIf(count() != 1 OR any(currency) != 'EUR' OR any(lookback_days) != 90) FROM {db}.sites WHERE site_id = 'fx';

-- One row per session in its latest version; no folded or bot session; persons resolved
-- through chains of merges; days in UTC; session ids as text.
SELECT throwIf(count() != 3) FROM {db}.sessions_current WHERE site_id = 'fx';
SELECT throwIf(count() != 1 OR any(channel) != 'Paid Search' OR any(pageviews) != 3)
FROM {db}.sessions_current WHERE site_id = 'fx' AND session_id = '11111111-1111-4111-8111-111111111111';
SELECT throwIf(count() != 0) FROM {db}.sessions_current WHERE session_id IN ('33333333-3333-4333-8333-333333333333', '44444444-4444-4444-8444-444444444444');
SELECT throwIf(any(person_id) != 'p1') FROM {db}.sessions_current WHERE session_id = '66666666-6666-4666-8666-666666666666';
SELECT throwIf(any(day) != toDate('2026-10-04') OR count() != 1) FROM {db}.sessions_current WHERE site_id = 'fx' AND day = '2026-10-04';

-- Visitors to their current person, whichever table knows them.
SELECT throwIf(count() != 5 OR uniqExactIf(visitor_id, person_id = 'p1') != 2 OR anyIf(person_id, visitor_id = 'v3') != 'p3')
FROM {db}.people WHERE site_id = 'fx';

-- Identity links with their current person.
SELECT throwIf(count() != 1 OR any(person_id) != 'p3' OR any(email_sha256) != 'e3') FROM {db}.identities_current WHERE site_id = 'fx';

-- Conversions: no bot's, the corrected time, currencies upper-cased or the site's, money
-- converted with the rate of the day or the latest of the seven days before, never with
-- a rate against another base, unconverted without one.
SELECT throwIf(count() != 6) FROM {db}.conversions_current WHERE site_id = 'fx';
SELECT throwIf(count() != 1 OR any(occurred_at) != toDateTime('2026-10-07 15:00:00', 'UTC') OR any(day) != toDate('2026-10-07'))
FROM {db}.conversions_current WHERE site_id = 'fx' AND conversion_id = 'lead-fixed';
SELECT throwIf(any(currency) != 'USD' OR any(site_currency) != 'EUR' OR abs(any(value_site) - 80) > 1e-9 OR any(unconverted) != 0)
FROM {db}.conversions_current WHERE conversion_id = 'sale-usd';
SELECT throwIf(any(currency) != 'CHF' OR any(value_site) != 0 OR any(unconverted) != 1) FROM {db}.conversions_current WHERE conversion_id = 'sale-chf';
SELECT throwIf(any(currency) != 'EUR' OR any(value_site) != 70 OR any(unconverted) != 0) FROM {db}.conversions_current WHERE conversion_id = 'sale-own';
SELECT throwIf(any(value_site) != 0 OR any(unconverted) != 1) FROM {db}.conversions_current WHERE conversion_id = 'sale-stale';
SELECT throwIf(any(person_id) != 'p1') FROM {db}.conversions_current WHERE conversion_id = 'sale-p2';
SELECT throwIf(any(site_currency) != 'EUR' OR any(value_site) != 25) FROM {db}.conversions_current WHERE site_id = 'bare';

-- Credit: only the latest computation's credited touches, persons resolved, revenue
-- converted, the visitor of each touch ('' for no touchpoint).
SELECT throwIf(count() != 1 OR any(session_id) != '66666666-6666-4666-8666-666666666666' OR any(visitor_id) != 'v2' OR sum(credit) != 1)
FROM {db}.attributions_current WHERE conversion_id = 'lead-fixed';
SELECT throwIf(count() != 3 OR uniqExact(person_id) != 1 OR any(person_id) != 'p1') FROM {db}.attributions_current WHERE conversion_id = 'sale-usd';
SELECT throwIf(abs(sumIf(revenue_site, model = 'linear') - 80) > 1e-9 OR anyIf(currency, model = 'linear') != 'USD'
    OR anyIf(visitor_id, model = 'first_click') != '' OR anyIf(session_id, model = 'first_click') != '')
FROM {db}.attributions_current WHERE conversion_id = 'sale-usd';
-- touch_credit_versions: the highest version of each conversion, at its time.
SELECT throwIf(count() != 2 OR maxIf(version, conversion_id = 'lead-fixed') != 20 OR maxIf(version, conversion_id = 'sale-usd') != 30
    OR anyIf(occurred_at, conversion_id = 'sale-usd') != toDateTime('2026-10-04 12:00:00', 'UTC'))
FROM (SELECT conversion_id, occurred_at, max(version) AS version FROM {db}.touch_credit_versions WHERE site_id = 'fx' GROUP BY conversion_id, occurred_at);

-- Cost: each campaign's tree counted once, the latest import, converted.
SELECT throwIf(count() != 3) FROM {db}.campaign_costs WHERE site_id = 'fx';
SELECT throwIf(any(cost) != 60 OR any(clicks) != 16 OR any(impressions) != 160 OR any(cost_site) != 60) FROM {db}.campaign_costs WHERE campaign = 'brand';
SELECT throwIf(any(cost) != 29 OR any(clicks) != 7) FROM {db}.campaign_costs WHERE campaign = 'generic';
SELECT throwIf(any(currency) != 'GBP' OR abs(any(cost_site) - 10) > 1e-9 OR any(unconverted) != 0) FROM {db}.campaign_costs WHERE campaign = 'uk';
SELECT throwIf(count() != 3 OR sum(cost) != 79 OR sumIf(cost, keyword = 'crm') != 9) FROM {db}.keyword_costs WHERE site_id = 'fx';

-- The calendar: every day once, with its week (Monday), month and quarter.
SELECT throwIf(count() != 36525 OR min(date) != toDate('2000-01-01') OR max(date) != toDate('2099-12-31')) FROM {db}.dates;
SELECT throwIf(any(week) != toDate('2026-09-28') OR any(month) != toDate('2026-10-01') OR any(quarter) != toDate('2026-10-01'))
FROM {db}.dates WHERE date = '2026-10-04';

-- One type per id column across the views and the tables they read, but sessions'
-- session_id, which its sorting key keeps a UUID.
SELECT throwIf(uniqExact(name, type) != uniqExact(name))
FROM system.columns
WHERE database = '{db}' AND name IN ('session_id', 'person_id', 'visitor_id', 'conversion_id', 'event_id')
    AND NOT (table = 'sessions' AND name = 'session_id');
