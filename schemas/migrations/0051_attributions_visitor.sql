-- The visitor id of the credited session, so a touch's credit can be followed to the
-- browser it came from without a join; '' for a conversion without touchpoints.
ALTER TABLE {db}.attributions ADD COLUMN visitor_id String;

-- Rows computed before get it from their session: the current rows are written again with
-- the visitor id and their version plus one, so they replace themselves and the rows of a
-- conversion's latest computation still share the highest version. Credits do not change;
-- rows whose session is gone keep ''.
INSERT INTO {db}.attributions (site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, model, session_id,
    touch_at, channel, source, medium, campaign, term, content, landing_page, credit, revenue, currency, removed, computed_at,
    version, country, device, visitor_id)
SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, model, session_id,
    touch_at, channel, source, medium, campaign, term, content, landing_page, credit, revenue, currency, removed, computed_at,
    version + 1, country, device, session_visitor
FROM
(
    SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, model, session_id, touch_at, channel, source,
        medium, campaign, term, content, landing_page, credit, revenue, currency, removed, computed_at, version, country, device
    FROM {db}.attributions FINAL
    WHERE session_id != '' AND visitor_id = ''
) AS credited
ANY INNER JOIN
(
    SELECT site_id, sid AS session_id, session_visitor
    FROM
    (
        SELECT site_id, toString(session_id) AS sid, any(visitor_id) AS session_visitor
        FROM {db}.sessions
        GROUP BY site_id, sid
    )
) AS touched USING (site_id, session_id);
