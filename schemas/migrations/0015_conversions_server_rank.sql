-- Conversions recorded by the site's servers (/v1/conversions, /v1/import) rank above those
-- recorded by browsers: their version is the receive time in ms plus 2^62, a browser row's
-- the receive time alone. A browser event reusing a server's conversion id then never
-- replaces its row, whenever it arrives; a server row replaces a browser row of the same id.
-- The stitcher writes versions so from now on; rows stored before are ranked here, which
-- also makes a server row current again where a browser row had replaced it.
INSERT INTO {db}.conversions (site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id,
    email_sha256, user_id, session_id, value, currency, props, event_id, origin, version)
SELECT site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id,
    email_sha256, user_id, session_id, value, currency, props, event_id, origin, version + 4611686018427387904
FROM {db}.conversions
WHERE origin IN ('server', 'import') AND version < 4611686018427387904;
