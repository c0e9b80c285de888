#!/usr/bin/env python3
"""Runs the queries the Go tests made on the local ClickHouse (each kind once) on a current
ClickHouse engine (chdb, embedded), after every migration, so that a query that only works
on the Debian server is caught. The local server logs its queries (deploy/clickhouse/users.xml);
the tests' databases are named tp_test_<n>. Argument: the Unix time the tests started.
Exits non-zero when a query fails."""
import json
import re
import sys
import tempfile
import urllib.request

from chdb import session

from check_schema import DB, ROOT, sql_of, statements

SERVER = "http://127.0.0.1:8123/"


def server(query: str) -> str:
    with urllib.request.urlopen(SERVER, data=query.encode(), timeout=60) as r:  # POST: SYSTEM needs it
        return r.read().decode()


def main() -> int:
    since = int(sys.argv[1])
    server("SYSTEM FLUSH LOGS")
    # A kind of query: its text with numbers left out, up to where two kinds differ. The
    # server cuts the text it logs at 100,000 bytes: such a query cannot be run again.
    rows = server(f"""SELECT any(query) AS q FROM system.query_log
        WHERE type = 2 AND event_time >= toDateTime({since}) AND query LIKE '%tp\\_test\\_%'
            AND length(query) < 100000
        GROUP BY substring(replaceRegexpAll(query, '[0-9]+', 'N'), 1, 400) FORMAT JSONEachRow""")
    queries = []
    for line in rows.splitlines():
        q = re.sub(r"\btp_test_\d+\.", DB + ".", json.loads(line)["q"])
        head = q.lstrip().upper()
        # Reads and INSERT … SELECT; not the migrations' bookkeeping, the server's own
        # tables, the migration tests' table that a later migration drops, or batch inserts
        # (their rows are not logged).
        if not head.startswith(("SELECT", "WITH", "INSERT")) or "FORMAT NATIVE" in head or "VALUES" in head[:400]:
            continue
        if "schema_migrations" in q or "system." in q or re.search(rf"\b{DB}\.attributions\b(?!_)", q):
            continue
        queries.append(q)
    with tempfile.TemporaryDirectory() as tmp:
        s = session.Session(tmp)
        s.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
        for f in sorted((ROOT / "schemas" / "migrations").glob("*.sql")):
            for st in statements(sql_of(f).replace("{db}", DB)):
                s.query(st)
        failed = 0
        for q in queries:
            try:
                s.query(q)
            except Exception as e:  # chdb raises its own error types
                if "Code: 395." in str(e):  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
                    continue  # a test's check of its data: the query ran, on empty tables
                failed += 1
                print(f"FAIL on ClickHouse {s.query('SELECT version()', 'CSV').data().strip()}: {str(e).splitlines()[0][:300]}\n{q[:1500]}\n",
                      file=sys.stderr)
    print(f"query check: {len(queries)} kinds of query the tests made, {failed} failed on a current ClickHouse")
    return 1 if failed or not queries else 0


if __name__ == "__main__":
    sys.exit(main())
