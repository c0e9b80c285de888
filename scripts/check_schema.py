#!/usr/bin/env python3
"""Applies every ClickHouse migration to a current ClickHouse engine (chdb, embedded) so
SQL that only works on the old Debian server is caught early, then runs the queries of
the files given as arguments (.sql, or the ```sql blocks of .md). Exits non-zero on failure."""
import pathlib
import re
import sys
import tempfile

import chdb
from chdb import session

ROOT = pathlib.Path(__file__).resolve().parent.parent
DB = "touchpoint"


def statements(sql: str):
    cur = []
    for line in sql.splitlines():
        t = line.strip()
        if not t or t.startswith("--"):
            continue
        cur.append(line)
        if t.endswith(";"):
            yield "\n".join(cur).rstrip().rstrip(";")
            cur = []
    if cur:
        yield "\n".join(cur)


def sql_of(path: pathlib.Path) -> str:
    """A .sql file as it is; the ```sql blocks of a Markdown file, one statement each."""
    text = path.read_text()
    if path.suffix == ".md":
        return "".join(b.strip() + ";\n" for b in re.findall(r"```sql\n(.*?)```", text, re.S))
    return text


def main() -> int:
    files = sorted((ROOT / "schemas" / "migrations").glob("*.sql"))
    extra = sys.argv[1:]  # optional files of queries to run after the migrations
    with tempfile.TemporaryDirectory() as tmp:
        s = session.Session(tmp)
        s.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
        n = 0
        for f in files + [pathlib.Path(p) for p in extra]:
            for st in statements(sql_of(f).replace("{db}", DB)):
                try:
                    s.query(st)
                except Exception as e:  # chdb raises its own error types
                    print(f"FAIL {f.name}: {e}\n{st}", file=sys.stderr)
                    return 1
                n += 1
        print(f"schema check: {len(files)} migrations, {n} statements applied on ClickHouse {s.query('SELECT version()', 'CSV').data().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
