package event

import "testing"

func TestEmailSHA256(t *testing.T) {
	f := func(email, want string) {
		t.Helper()
		if got := EmailSHA256(email); got != want {
			t.Fatalf("EmailSHA256(%q) = %s, want %s", email, got, want)
		}
	}
	// printf %s 'ann@example.com' | sha256sum
	const ann = "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476"
	f("ann@example.com", ann)
	f(" Ann@Example.COM ", ann)
	f("\tANN@EXAMPLE.COM\n", ann)
}
