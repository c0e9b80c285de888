// Package glob matches the patterns of the site configuration: "*" stands for any
// characters (dots and slashes included), everything else for itself.
package glob

// Match reports whether s matches pattern p. It never allocates.
func Match(p, s string) bool {
	star, next := -1, 0 // the last star seen in p, and where in s its match would end next
	for i, j := 0, 0; j < len(s) || i < len(p); {
		switch {
		case i < len(p) && p[i] == '*':
			star, next = i, j
			i++
			continue
		case i < len(p) && j < len(s) && p[i] == s[j]:
			i, j = i+1, j+1
			continue
		case star >= 0 && next < len(s):
			next++
			i, j = star+1, next
			continue
		}
		return false
	}
	return true
}
