package chstore

import (
	"fmt"
	"strconv"
	"strings"
)

// Packed is the SQL expression that packs string columns into one string: each column
// as its length in bytes, a colon and its bytes. Reading many rows, one packed column
// costs ClickHouse's sort and the driver far less than many: the driver makes a Go
// string per value, and the garbage collector then has one object per row to follow
// instead of one per column. Unpack reads it.
func Packed(cols ...string) string {
	args := make([]string, 0, 3*len(cols))
	for _, c := range cols {
		args = append(args, fmt.Sprintf("toString(length(%s))", c), "':'", c)
	}
	return "concat(" + strings.Join(args, ", ") + ")"
}

// Pack packs values in Go as Packed does in SQL: to compare with, or look up, packed
// columns.
func Pack(values ...string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// Unpack sets fields, in the order of Packed's columns, from a string Packed made. The
// fields share the packed string's memory.
func Unpack(text string, fields ...*string) error {
	for k, f := range fields {
		i := strings.IndexByte(text, ':')
		if i < 0 {
			return fmt.Errorf("cannot unpack %d columns: only %d found", len(fields), k)
		}
		n, err := strconv.Atoi(text[:i])
		if err != nil || n < 0 || n > len(text)-i-1 {
			return fmt.Errorf("cannot unpack column %d of %d: bad length %q", k+1, len(fields), text[:i])
		}
		*f, text = text[i+1:i+1+n], text[i+1+n:]
	}
	if text != "" {
		return fmt.Errorf("cannot unpack %d columns: %d bytes left over", len(fields), len(text))
	}
	return nil
}
