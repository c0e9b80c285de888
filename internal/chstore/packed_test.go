package chstore_test

import (
	"context"
	"strings"
	"testing"

	"touchpoint/internal/chstore"
	"touchpoint/internal/testenv"
)

// Values as users' URLs and forms bring them: empty, colons and digits where the
// lengths go, control characters, several bytes per character, long.
var packedValues = [][3]string{
	{"", "", ""},
	{"12:", ":", "3:abc"},
	{"spring\x1fsale\x00", "naïve café ☕", "\n\t'\"\\"},
	{strings.Repeat("utm ", 25000), "0", "-1:"},
}

func TestPackedRoundTripsThroughClickHouse(t *testing.T) {
	conn, _ := testenv.FreshDatabase(t)
	ctx := context.Background()
	for _, want := range packedValues {
		var text string
		q := "SELECT " + chstore.Packed("a", "b", "c") + " FROM (SELECT ? AS a, ? AS b, ? AS c)"
		if err := conn.QueryRow(ctx, q, want[0], want[1], want[2]).Scan(&text); err != nil {
			t.Fatal(err)
		}
		var got [3]string
		if err := chstore.Unpack(text, &got[0], &got[1], &got[2]); err != nil {
			t.Fatalf("%q: %v", want, err)
		}
		if got != want {
			t.Errorf("packed %q, unpacked %q", want, got)
		}
		if p := chstore.Pack(want[:]...); p != text {
			t.Errorf("%q: Pack made %q, ClickHouse %q", want, p, text)
		}
	}
}

func TestUnpackRefusesWhatPackedDidNotMake(t *testing.T) {
	var a, b string
	for _, text := range []string{"", "3:abc", "3:abc2:de1:f", "4:abc1:d", "x:abc0:", "-1:0:", "3abc0:"} {
		if err := chstore.Unpack(text, &a, &b); err == nil {
			t.Errorf("%q unpacked as %q, %q", text, a, b)
		}
	}
	if err := chstore.Unpack("3:abc0:", &a, &b); err != nil || a != "abc" || b != "" {
		t.Errorf(`"3:abc0:" unpacked as %q, %q (%v)`, a, b, err)
	}
}
