-- Access tokens of the reports API, one site and some scopes each (reports:read,
-- costs:write, admin), created and revoked with `touchpoint-token`. Only the SHA-256 of
-- a token is kept; the token itself is shown once, when it is created. Revoking writes
-- the row again with revoked = 1 and a higher version.
CREATE TABLE IF NOT EXISTS {db}.api_tokens
(
    token_id     String,
    site_id      String,
    scopes       Array(String),
    token_sha256 String,
    name         String,
    created_at   DateTime,
    revoked      UInt8,
    revoked_at   DateTime,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY token_id;
