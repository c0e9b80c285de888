-- What the Meta Conversions API needs of a browser, kept only for sites that send to it
-- (`meta.pixel_id`): the `_fbc` and `_fbp` cookies the snippet read and the user agent
-- string of the request. '' for other sites and for events stored before.
ALTER TABLE {db}.events ADD COLUMN fbc String, ADD COLUMN fbp String, ADD COLUMN user_agent String;

-- The address a conversion carried, kept only for sites that send it to their CRM
-- (`webhook_include_email`) or keep PII (`keep_pii`); '' otherwise.
ALTER TABLE {db}.conversions ADD COLUMN email String;
