-- Where and on what a touchpoint happened: the country (ISO code, from GeoIP) and device
-- type (desktop, mobile, tablet) of a session's first event, copied into each of its
-- attribution rows, so the source report can group traffic and credit by them. Rows
-- written before have ''. A conversion without a touchpoint has '(no touchpoint)'.
ALTER TABLE {db}.sessions ADD COLUMN country String, ADD COLUMN device String;

ALTER TABLE {db}.attributions ADD COLUMN country String, ADD COLUMN device String;
