-- Lead scoring (docs/scoring.md).
--
-- events.traits: what an identify call or a form says about the person besides the
-- identifiers kept in identities (email hash, user id), as a flat JSON object of strings;
-- '' for other events and for events stored before. Fit rules read them.
ALTER TABLE {db}.events ADD COLUMN traits String;

-- scoring_rules: the rules set through PUT /api/v1/scoring, every version kept. A site's
-- highest version is in use; its rules '' means cleared: the site file's rules apply.
CREATE TABLE IF NOT EXISTS {db}.scoring_rules
(
    site_id    String,
    version    UInt64,
    rules      String,
    updated_by String,
    updated_at DateTime
)
ENGINE = MergeTree
ORDER BY (site_id, version);

-- lead_scores: each person's current score, one row per (site, person); a rescoring
-- writes the row again with a higher version (FINAL or argMax). A person without any
-- point has no row: their score is 0. deleted = 1 marks a person id merged into another.
-- reasons is a JSON array of {kind, rule, points, times, value} adding up to score.
-- engagement_last is the engagement right after last_activity, which decays from then on;
-- decays_at is when it next loses decay_percent; qualified_at when the score first made
-- the lead an MQL (1970-01-01: never); rules_version the fingerprint of the rules used.
CREATE TABLE IF NOT EXISTS {db}.lead_scores
(
    site_id         String,
    person_id       String,
    engagement      Float64,
    fit             Float64,
    score           Float64,
    reasons         String,
    last_activity   DateTime,
    engagement_last Float64,
    decays_at       DateTime,
    qualified_at    DateTime,
    rules_version   UInt64,
    deleted         UInt8,
    updated_at      DateTime,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, person_id);

-- lead_score_history: every change of a person's score, when and why (cause: activity,
-- decay, rules, merge), with the score before it.
CREATE TABLE IF NOT EXISTS {db}.lead_score_history
(
    site_id        String,
    person_id      String,
    at             DateTime,
    cause          String,
    engagement     Float64,
    fit            Float64,
    score          Float64,
    previous_score Float64,
    reasons        String,
    rules_version  UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (site_id, person_id, at);
