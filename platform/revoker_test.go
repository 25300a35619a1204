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
	writer := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{Now: clock})
	reader := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{Now: clock})

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
	late := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{Now: clock})
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
	if _, err := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{Now: clock}).IsRevoked(ctx, "jti-3"); err == nil {
		t.Error("IsRevoked on a closed store: no error")
	}
}

// TestStoreRevokerSoleWriter: the all-in-one revoker writes revocations
// through to the store, a new one (the restarted process) loads those still
// in force, and its checks never read the store.
func TestStoreRevokerSoleWriter(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	first := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{SoleWriter: true, Now: clock})
	if n, err := first.Load(ctx); err != nil || n != 0 {
		t.Fatalf("Load of an empty store = %d, %v", n, err)
	}
	for jti, until := range map[string]time.Duration{"short": time.Minute, "long": time.Hour, "past": -time.Second} {
		if err := first.Revoke(ctx, jti, now.Add(until)); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Revoke(ctx, "short", now.Add(2*time.Minute)); err != nil { // extended
		t.Fatal(err)
	}
	if ok, err := first.IsRevoked(ctx, "long"); !ok || err != nil {
		t.Fatalf("IsRevoked(long) = %v, %v", ok, err)
	}

	now = now.Add(90 * time.Second) // "short" is in force by its extension only
	second := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{SoleWriter: true, Now: clock})
	if n, err := second.Load(ctx); err != nil || n != 2 {
		t.Fatalf("Load = %d, %v; want the two entries in force (short extended, long)", n, err)
	}
	// A reader of the same store that is not a sole writer sees them too.
	shared := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{Now: clock})
	_ = db.Close() // from here, a read of the store would fail
	for _, tc := range []struct {
		jti  string
		want bool
	}{{"short", true}, {"long", true}, {"past", false}, {"other", false}} {
		if got, err := second.IsRevoked(ctx, tc.jti); got != tc.want || err != nil {
			t.Errorf("after restart: IsRevoked(%q) = %v, %v; want %v", tc.jti, got, err, tc.want)
		}
	}
	if _, err := shared.IsRevoked(ctx, "long"); err == nil {
		t.Error("a shared reader answered without its store")
	}
	now = now.Add(time.Hour)
	if got, _ := second.IsRevoked(ctx, "long"); got {
		t.Error("revoked after the token's expiry")
	}
}

// BenchmarkStoreRevokerSoleIsRevoked measures the all-in-one revocation
// check of a token that is not revoked (memory only).
func BenchmarkStoreRevokerSoleIsRevoked(b *testing.B) {
	db, err := embedded.Open(b.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := NewStoreRevoker(db, dao.DefaultTables, StoreRevokerOptions{SoleWriter: true})
	ctx := context.Background()
	for i := range 100 {
		if err := r.Revoke(ctx, "revoked-"+time.Duration(i).String(), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := r.IsRevoked(ctx, "CGV4PC4R5WHRLU2PIPVLONQRNV"); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
