package platform

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// TestStoreRevoker: a revocation written by one revoker is seen by another
// on the same store (another process), lasts until the token's expiry,
// and bad or past entries change nothing.
func TestStoreRevoker(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	writer := NewStoreRevoker(db, dao.DefaultTables, clock)
	reader := NewStoreRevoker(db, dao.DefaultTables, clock)

	if err := writer.Revoke(ctx, "jti-1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := writer.Revoke(ctx, "jti-past", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		jti  string
		at   time.Duration // clock offset from now
		want bool
	}{
		{"revoked", "jti-1", 0, true},
		{"revoked, read again (cached)", "jti-1", 0, true},
		{"other token", "jti-2", 0, false},
		{"past until: not stored", "jti-past", 0, false},
		{"empty", "", 0, false},
	} {
		got, err := reader.IsRevoked(ctx, tc.jti)
		if err != nil || got != tc.want {
			t.Errorf("%s: IsRevoked(%q) = %v, %v; want %v", tc.name, tc.jti, got, err, tc.want)
		}
	}
	// A fresh reader after the token died: the entry no longer counts.
	now = now.Add(time.Hour)
	late := NewStoreRevoker(db, dao.DefaultTables, clock)
	if got, err := late.IsRevoked(ctx, "jti-1"); err != nil || got {
		t.Errorf("after expiry: %v, %v", got, err)
	}
	for _, jti := range []string{"", strings.Repeat("j", auth.MaxJTILen+1)} {
		if err := writer.Revoke(ctx, jti, now.Add(time.Hour)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Revoke(%d bytes) = %v, want invalid", len(jti), err)
		}
	}
	// A closed store: the answer is unknown, an error (callers fail closed).
	_ = db.Close()
	if _, err := NewStoreRevoker(db, dao.DefaultTables, clock).IsRevoked(ctx, "jti-3"); err == nil {
		t.Error("IsRevoked on a closed store: no error")
	}
}
