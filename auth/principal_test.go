package auth

import (
	"context"
	"testing"
	"time"
)

func TestPrincipalContext(t *testing.T) {
	if p, ok := PrincipalFrom(context.Background()); ok || p != (Principal{}) {
		t.Fatalf("empty context: %+v, %v", p, ok)
	}
	want := Principal{Username: "alice_01", Role: RoleCustomer, TokenID: "j1", ExpiresAt: time.Unix(100, 0)}
	ctx := WithPrincipal(context.Background(), want)
	got, ok := PrincipalFrom(ctx)
	if !ok || got != want || got.IsAdmin() {
		t.Fatalf("PrincipalFrom = %+v, %v; want %+v, true", got, ok, want)
	}
	// Later changes to the caller's copy do not leak into the context.
	want.Username = "mallory"
	if got, _ := PrincipalFrom(ctx); got.Username != "alice_01" {
		t.Fatalf("principal changed to %q", got.Username)
	}
}

func TestRoleValid(t *testing.T) {
	for r, want := range map[Role]bool{RoleCustomer: true, RoleAdmin: true, "": false, "Admin": false} {
		if r.Valid() != want {
			t.Errorf("Role(%q).Valid() = %v", r, !want)
		}
	}
}
