package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// NormaliseEmail is the form in which addresses are compared: trimmed and lower-cased.
func NormaliseEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// EmailSHA256 is traits.email_sha256 and the email_sha256 columns: the hex SHA-256 of the
// normalised address. Everything that hashes an email uses it, so hashes always match.
func EmailSHA256(email string) string {
	h := sha256.Sum256([]byte(NormaliseEmail(email)))
	return hex.EncodeToString(h[:])
}
