-- The description of a submitted form, as JSON ({"id","name","action","fields","search",
-- "password"}; never a field's value), so that which submits are leads can be decided again
-- when a site's lead rules change (`stitcher restitch`). '' for other events and for form
-- submits stored before.
ALTER TABLE {db}.events ADD COLUMN form String;
