-- Conversions sent by a browser (tracker or pixel) that the collector flagged as a bot
-- (a known crawler or a headless browser) are stored with is_bot = 1 and left out of
-- attribution and reports. Conversions of server calls and imports always have 0. Rows
-- written before have 0; `stitcher restitch` sets the flag on them from their events.
ALTER TABLE {db}.conversions ADD COLUMN is_bot UInt8;
