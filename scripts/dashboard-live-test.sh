#!/usr/bin/env bash
# Runs the dashboard's browser tests against the real attribution service of the running
# stack, signed in with a reports:read token of the site: sends a small demo data set plus a lead whose campaign is a <script> tag through
# the collector, waits until that lead is attributed, then drives headless Chromium.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

bin/demo -visitors 300 -weeks 2 -seed 7 >/dev/null

# An address of this run only: one used by an earlier run would merge the two people, and
# the journey could change between what the test asks the API and what the page shows.
email="xss-check-$(date +%s%N)@example.com"
vid=$(cat /proc/sys/kernel/random/uuid)
now=$(($(date +%s) * 1000))
uuid() { cat /proc/sys/kernel/random/uuid; }
curl -sf -X POST http://127.0.0.1:8080/v1/import -H 'Authorization: Bearer demo-secret' -H 'Content-Type: application/json' -d @- <<JSON >/dev/null
{"site": "demo", "events": [
 {"id": "$(uuid)", "type": "pageview", "ts": $((now - 3600000)), "vid": "$vid",
  "url": "https://www.example.com/?utm_source=evil&utm_medium=cpc&utm_campaign=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
 {"id": "$(uuid)", "type": "form_submit", "ts": $((now - 3000000)), "vid": "$vid", "url": "https://www.example.com/demo",
  "form": {"id": "demo-request", "fields": ["email"]}},
 {"id": "$(uuid)", "type": "identify", "ts": $((now - 3000000)), "vid": "$vid", "url": "https://www.example.com/demo",
  "traits": {"email": "$email"}}]}
JSON
credited() {
  curl -sf -X POST -H 'Authorization: Bearer demo-admin' -H 'Content-Type: application/json' \
    -d "{\"email\": \"$email\"}" "http://127.0.0.1:8081/api/v1/journeys?site=demo" |
    grep -q '"first_click":1'
}
wait_for "the <script> lead's attribution" 60 credited

# The dashboard as a marketer of the site uses it: with a token of that site that may read
# reports, not the admin token.
token=$(bin/touchpoint-token create -site demo -scope reports:read -name dashboard-live-test 2>"$TP_LOG/token.log")
token_id=$(awk '{print $2}' "$TP_LOG/token.log")
trap '"$TP_ROOT/bin/touchpoint-token" revoke -id "$token_id" -sites "$TP_ROOT/config/dev.json" >/dev/null || true' EXIT
cd reports/dashboard
TP_DASHBOARD_URL=http://127.0.0.1:8081 TP_SITE=demo TP_ADMIN_TOKEN="$token" TP_JOURNEY="$email" \
  npm run --silent test:browser
