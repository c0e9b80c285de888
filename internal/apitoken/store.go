package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
)

// Token is one row of api_tokens, without the secret.
type Token struct {
	ID        string    `json:"id"`
	Site      string    `json:"site"`
	Scopes    []Scope   `json:"scopes"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// ErrNotFound is returned by Revoke for an unknown token id.
var ErrNotFound = errors.New("no such token")

// Store keeps tokens in ClickHouse and checks bearer tokens against them. Checks read a
// copy of the table that is at most MaxAge old (a revoked token stops working within it);
// a token not in the copy reloads it, at most once a second.
type Store struct {
	Conn   driver.Conn
	DB     string
	Sites  *site.Registry // its admin token is a grant for every site
	MaxAge time.Duration  // 0: 5 s

	mu       sync.Mutex
	byHash   map[[sha256.Size]byte]Grant
	loadedAt time.Time
	tried    time.Time
}

const columns = "token_id, site_id, scopes, token_sha256, name, created_at, revoked, revoked_at, version"

// Create stores a new token for site with scopes and returns it with its secret, which is
// not kept: it cannot be shown again.
func (s *Store) Create(ctx context.Context, siteID string, scopes []Scope, name string) (Token, string, error) {
	var raw [32]byte
	var id [6]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Token{}, "", fmt.Errorf("cannot make a token: %w", err)
	}
	if _, err := rand.Read(id[:]); err != nil {
		return Token{}, "", fmt.Errorf("cannot make a token id: %w", err)
	}
	secret := "tpk_" + base64.RawURLEncoding.EncodeToString(raw[:])
	t := Token{ID: "tok_" + hex.EncodeToString(id[:]), Site: siteID, Scopes: scopes, Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	sum := sha256.Sum256([]byte(secret))
	if err := s.write(ctx, t, hex.EncodeToString(sum[:])); err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

func (s *Store) write(ctx context.Context, t Token, digest string) error {
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".api_tokens ("+columns+")")
	if err != nil {
		return fmt.Errorf("cannot store the token: %w", err)
	}
	defer b.Abort()
	scopes := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = string(sc)
	}
	var revoked uint8
	revokedAt := time.Unix(0, 0)
	if t.Revoked {
		revoked, revokedAt = 1, t.RevokedAt
	}
	if err := b.Append(t.ID, t.Site, scopes, digest, t.Name, t.CreatedAt, revoked, revokedAt, uint64(time.Now().UnixNano())); err != nil {
		return fmt.Errorf("cannot store the token: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store the token: %w", err)
	}
	return nil
}

// Revoke marks the token with id revoked. Revoking it again changes nothing.
func (s *Store) Revoke(ctx context.Context, id string) (Token, error) {
	ts, digests, err := s.read(ctx, id)
	if err != nil {
		return Token{}, err
	}
	if len(ts) == 0 {
		return Token{}, ErrNotFound
	}
	t := ts[0]
	if t.Revoked {
		return t, nil
	}
	t.Revoked, t.RevokedAt = true, time.Now().UTC().Truncate(time.Second)
	if err := s.write(ctx, t, digests[0]); err != nil {
		return Token{}, err
	}
	if d, err := hex.DecodeString(digests[0]); err == nil && len(d) == sha256.Size {
		s.mu.Lock()
		delete(s.byHash, [sha256.Size]byte(d)) // this process stops accepting it at once
		s.mu.Unlock()
	}
	return t, nil
}

// List returns the tokens of site (every site when empty), revoked ones included.
func (s *Store) List(ctx context.Context, siteID string) ([]Token, error) {
	ts, _, err := s.read(ctx, "")
	if err != nil {
		return nil, err
	}
	out := ts[:0]
	for _, t := range ts {
		if siteID == "" || t.Site == siteID {
			out = append(out, t)
		}
	}
	return out, nil
}

// read returns the current row of every token, or of the token with id.
func (s *Store) read(ctx context.Context, id string) ([]Token, []string, error) {
	q := "SELECT token_id, site_id, scopes, token_sha256, name, created_at, revoked, revoked_at FROM " + s.DB +
		".api_tokens FINAL WHERE ? = '' OR token_id = ? ORDER BY site_id, created_at, token_id"
	rows, err := s.Conn.Query(ctx, q, id, id)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read api_tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	var digests []string
	for rows.Next() {
		var t Token
		var scopes []string
		var digest string
		var revoked uint8
		if err := rows.Scan(&t.ID, &t.Site, &scopes, &digest, &t.Name, &t.CreatedAt, &revoked, &t.RevokedAt); err != nil {
			return nil, nil, fmt.Errorf("cannot read api_tokens: %w", err)
		}
		for _, sc := range scopes {
			t.Scopes = append(t.Scopes, Scope(sc))
		}
		t.Revoked = revoked == 1
		if !t.Revoked {
			t.RevokedAt = time.Time{}
		}
		out = append(out, t)
		digests = append(digests, digest)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("cannot read api_tokens: %w", err)
	}
	return out, digests, nil
}

// Verify returns what a bearer token allows; ok is false for an unknown or revoked token.
// err is set only when the tokens could not be read and the token is not the admin token.
func (s *Store) Verify(ctx context.Context, token string) (g Grant, ok bool, err error) {
	if token == "" {
		return Grant{}, false, nil
	}
	if s.Sites != nil && s.Sites.CheckAdmin(token) {
		return Grant{TokenID: "admin", Scopes: []Scope{Admin}}, true, nil
	}
	if s.Conn == nil {
		return Grant{}, false, nil
	}
	sum := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	maxAge := s.MaxAge
	if maxAge <= 0 {
		maxAge = 5 * time.Second
	}
	now := time.Now()
	g, ok = s.byHash[sum]
	stale := now.Sub(s.loadedAt) > maxAge
	if (stale || !ok) && now.Sub(s.tried) > time.Second || s.byHash == nil {
		s.tried = now
		if lerr := s.load(ctx); lerr != nil {
			if s.byHash == nil {
				return Grant{}, false, lerr
			}
			log.Printf("api tokens: using the copy of %s: %v", s.loadedAt.Format(time.RFC3339), lerr)
		}
		g, ok = s.byHash[sum]
	}
	return g, ok, nil
}

// load replaces the copy of the live tokens; s.mu is held.
func (s *Store) load(ctx context.Context) error {
	ts, digests, err := s.read(ctx, "")
	if err != nil {
		return err
	}
	m := make(map[[sha256.Size]byte]Grant, len(ts))
	for i, t := range ts {
		d, err := hex.DecodeString(digests[i])
		if t.Revoked || err != nil || len(d) != sha256.Size || t.Site == "" {
			continue
		}
		m[[sha256.Size]byte(d)] = Grant{TokenID: t.ID, Site: t.Site, Scopes: t.Scopes}
	}
	s.byHash, s.loadedAt = m, time.Now()
	return nil
}
