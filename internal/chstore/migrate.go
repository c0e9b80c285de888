package chstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/schemas"
)

// Migration is one numbered SQL file of schemas/migrations.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// Migrations returns the embedded migrations in order, with `{db}` replaced by database.
func Migrations(database string) ([]Migration, error) {
	if !identRe.MatchString(database) {
		return nil, fmt.Errorf("invalid ClickHouse database name %q", database)
	}
	files, err := fs.Glob(schemas.Migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Migration
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", name)
		}
		body, err := schemas.Migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, Statements: SplitStatements(strings.ReplaceAll(string(body), "{db}", database))})
	}
	return out, nil
}

// SplitStatements cuts a SQL file into statements at semicolons that end a line,
// dropping comment-only lines. Migrations keep string literals free of ";\n".
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate creates the database and applies every migration not yet recorded in
// schema_migrations. It is safe to run repeatedly and from several processes: every
// statement is idempotent (IF NOT EXISTS), and an ALTER ... ADD COLUMN, which ClickHouse
// 18.16 cannot write with IF NOT EXISTS, counts as done when its column exists.
func Migrate(ctx context.Context, conn driver.Conn, database string) ([]string, error) {
	return migrate(ctx, conn, func(ctx context.Context, st string) error { return conn.Exec(ctx, st) }, database, []string{
		"CREATE DATABASE IF NOT EXISTS " + database,
		"CREATE TABLE IF NOT EXISTS " + database + `.schema_migrations
		(version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
	}, nil)
}

// migrate runs setup (which creates the database and schema_migrations), then the
// migrations not applied yet, each statement rewritten by rewrite when it is given and
// run by exec.
func migrate(ctx context.Context, conn driver.Conn, exec func(context.Context, string) error, database string, setup []string, rewrite func([]string) ([]string, error)) ([]string, error) {
	ms, err := Migrations(database)
	if err != nil {
		return nil, err
	}
	for _, st := range setup {
		if err := conn.Exec(ctx, st); err != nil {
			return nil, fmt.Errorf("cannot create database %s: %w", database, err)
		}
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM "+database+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		applied[int(v)] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var done []string
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		stmts := m.Statements
		if rewrite != nil {
			if stmts, err = rewrite(stmts); err != nil {
				return done, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		for i, st := range stmts {
			if err := exec(ctx, st); err != nil && !columnExists(st, err) {
				return done, fmt.Errorf("migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := record(ctx, conn, database, m); err != nil {
			return done, fmt.Errorf("cannot record migration %s: %w", m.Name, err)
		}
		done = append(done, m.Name)
	}
	return done, nil
}

// columnExists reports whether err is ClickHouse refusing an ADD COLUMN statement
// because the column is there already (another process applied the migration).
func columnExists(statement string, err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 44 && strings.Contains(strings.ToUpper(statement), "ADD COLUMN")
}

func record(ctx context.Context, conn driver.Conn, database string, m Migration) error {
	b, err := PrepareBatch(ctx, conn, "INSERT INTO "+database+".schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	defer b.Abort()
	if err := b.Append(uint32(m.Version), m.Name, time.Now()); err != nil {
		return err
	}
	return b.Send()
}
