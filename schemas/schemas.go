// Package schemas holds the ClickHouse migrations (applied in file-name order by
// `migrate`) and the JSON Schema of the event contract.
package schemas

import "embed"

// Migrations are the numbered SQL files; `{db}` stands for the database name.
//
//go:embed migrations/*.sql
var Migrations embed.FS
