-- Cost rows below the campaign: ad group (Meta: ad set) and keyword (term), with clicks
-- and impressions. The new columns join the sorting key, so a keyword's row and its
-- campaign's row are distinct rows; how the report keeps them from being counted twice
-- is in docs/attribution.md ("Ad costs"). Rows imported before have ad_group = '' and
-- term = '': campaign rows. The columns have no default expression, as ClickHouse
-- requires of columns added to a sorting key; their default is the empty string.
ALTER TABLE {db}.ad_costs ADD COLUMN ad_group String, ADD COLUMN term String,
    MODIFY ORDER BY (site_id, date, channel, source, medium, campaign, ad_group, term);

ALTER TABLE {db}.ad_costs ADD COLUMN clicks UInt64, ADD COLUMN impressions UInt64;
