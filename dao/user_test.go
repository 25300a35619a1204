package dao_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

func newUser(name, email string) *entity.User {
	now := entity.At(t0)
	return &entity.User{Username: name, Email: email, PasswordHash: "hash-" + name, FirstName: "First", LastName: "Last",
		Phone: "15550001111", DateOfBirth: "1990-01-02", MarketingEmailsConsent: true, Role: entity.RoleCustomer,
		IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
}

func getUser(t *testing.T, d *dao.DAOs, name string) *entity.User {
	t.Helper()
	u, err := d.Users.GetByUsername(context.Background(), name)
	if err != nil {
		t.Fatalf("GetByUsername(%s): %v", name, err)
	}
	return u
}

func TestUserCreateAndGet(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	alice := newUser("alice", "alice@example.com")
	if err := d.Users.Create(ctx, alice, d.Balances.CreateWrite("alice", entity.USD, t0)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "ALICE", "Alice"} {
		if got := getUser(t, d, name); !reflect.DeepEqual(got, alice) {
			t.Fatalf("GetByUsername(%s) = %+v\nwant %+v", name, got, alice)
		}
	}
	for _, email := range []string{"alice@example.com", "ALICE@Example.COM"} {
		got, err := d.Users.GetByEmail(ctx, email)
		if err != nil || !reflect.DeepEqual(got, alice) {
			t.Fatalf("GetByEmail(%s) = %+v, %v", email, got, err)
		}
	}
	// The extra write ran in the same transaction.
	if b, err := d.Balances.Get(ctx, "alice", entity.USD); err != nil || b.Version != 1 || !b.CurrentBalance.IsZero() {
		t.Fatalf("balance %+v, %v", b, err)
	}

	tests := []struct {
		name      string
		user      *entity.User
		extra     []store.Write
		wantErr   error
		wantEmail bool // the new email guard exists afterwards
	}{
		{"same username", newUser("alice", "other@example.com"), nil, dao.ErrUsernameTaken, false},
		{"same email", newUser("bob_22", "alice@example.com"), nil, dao.ErrEmailTaken, true},
		{"same username and email", newUser("alice", "alice@example.com"), nil, dao.ErrUsernameTaken, true},
		// A failing extra write is neither: the transaction's error comes back.
		{"extra write fails", newUser("carol1", "carol@example.com"),
			[]store.Write{d.Balances.CreateWrite("alice", entity.USD, t0)}, store.ErrConditionFailed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Users.Create(ctx, tc.user, tc.extra...)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Create: %v, want %v", err, tc.wantErr)
			}
			wantKind(t, "Create", err, apperr.Conflict)
			if tc.wantErr == store.ErrConditionFailed && (errors.Is(err, dao.ErrUsernameTaken) || errors.Is(err, dao.ErrEmailTaken)) {
				t.Fatalf("extra write failure reported as %v", err)
			}
			// Nothing of the failed transaction was written.
			_, err = d.Users.GetByEmail(ctx, tc.user.Email)
			if tc.wantEmail {
				if err != nil {
					t.Fatalf("GetByEmail: %v", err)
				}
			} else {
				wantKind(t, "GetByEmail", err, apperr.NotFound)
			}
			if tc.user.Username != "alice" {
				_, err := d.Users.GetByUsername(ctx, tc.user.Username)
				wantKind(t, "GetByUsername", err, apperr.NotFound)
			}
		})
	}
	if got := getUser(t, d, "alice"); !reflect.DeepEqual(got, alice) {
		t.Fatalf("alice changed: %+v", got)
	}

	_, err := d.Users.GetByUsername(ctx, "nobody")
	wantKind(t, "GetByUsername(nobody)", err, apperr.NotFound)
	_, err = d.Users.GetByEmail(ctx, "nobody@example.com")
	wantKind(t, "GetByEmail(nobody)", err, apperr.NotFound)

	_, err = d.Users.GetByUsername(canceled(), "alice")
	if !errors.Is(err, context.Canceled) || apperr.Is(err, apperr.NotFound) {
		t.Fatalf("GetByUsername canceled: %v", err)
	}
	_, err = d.Users.GetByEmail(canceled(), "alice@example.com")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GetByEmail canceled: %v", err)
	}
	wantCanceled(t, "Create canceled", d.Users.Create(canceled(), newUser("dave01", "dave@example.com")), "create user dave01: ")
}

func TestUserUpdate(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	for _, u := range []*entity.User{newUser("alice", "alice@example.com"), newUser("bobby1", "bob@example.com")} {
		if err := d.Users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	t1 := t0.Add(time.Minute)

	// A change without an email change.
	u := getUser(t, d, "alice")
	u.FirstName = "Alicia"
	if err := d.Users.Update(ctx, u, "alice@example.com", t1); err != nil {
		t.Fatal(err)
	}
	if u.Version != 2 || !u.UpdatedAt.Equal(t1) {
		t.Fatalf("after Update: version %d updated %v", u.Version, u.UpdatedAt)
	}
	if got := getUser(t, d, "alice"); !reflect.DeepEqual(got, u) {
		t.Fatalf("stored %+v\nwant   %+v", got, u)
	}

	// An email change moves the guard: the new email finds alice, the old
	// one is free for someone else.
	u.Email = "alicia@example.com"
	if err := d.Users.Update(ctx, u, "alice@example.com", t1.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if u.Version != 3 {
		t.Fatalf("version %d, want 3", u.Version)
	}
	if got, err := d.Users.GetByEmail(ctx, "alicia@example.com"); err != nil || got.Username != "alice" || got.Version != 3 {
		t.Fatalf("GetByEmail(new) = %+v, %v", got, err)
	}
	_, err := d.Users.GetByEmail(ctx, "alice@example.com")
	wantKind(t, "GetByEmail(old)", err, apperr.NotFound)
	if err := d.Users.Create(ctx, newUser("carol1", "alice@example.com")); err != nil {
		t.Fatalf("old email not free: %v", err)
	}
	// ... and the new email is taken.
	if err := d.Users.Create(ctx, newUser("dave01", "alicia@example.com")); !errors.Is(err, dao.ErrEmailTaken) {
		t.Fatalf("new email not taken: %v", err)
	}

	// Changing to another user's email: ErrEmailTaken, nothing changes.
	u.Email = "bob@example.com"
	if err := d.Users.Update(ctx, u, "alicia@example.com", t1); err != dao.ErrEmailTaken {
		t.Fatalf("Update to bob's email: %v", err)
	}
	if u.Version != 3 {
		t.Fatalf("version after failed update %d, want 3", u.Version)
	}
	if got, err := d.Users.GetByEmail(ctx, "bob@example.com"); err != nil || got.Username != "bobby1" {
		t.Fatalf("bob's email guard: %+v, %v", got, err)
	}
	if got := getUser(t, d, "alice"); got.Email != "alicia@example.com" || got.Version != 3 {
		t.Fatalf("alice after failed update: %+v", got)
	}

	// Two writers read version 3: the second loses.
	a1, a2 := getUser(t, d, "alice"), getUser(t, d, "alice")
	a1.LastName, a2.LastName = "One", "Two"
	if err := d.Users.Update(ctx, a1, a1.Email, t1); err != nil {
		t.Fatal(err)
	}
	err = d.Users.Update(ctx, a2, a2.Email, t1)
	wantKind(t, "stale Update", err, apperr.Conflict)
	if errors.Is(err, dao.ErrEmailTaken) || a2.Version != 3 {
		t.Fatalf("stale Update: %v, version %d", err, a2.Version)
	}
	if got := getUser(t, d, "alice"); got.LastName != "One" || got.Version != 4 {
		t.Fatalf("alice %+v", got)
	}
	// A stale writer that also changes the email loses on the profile.
	a2.Email = "new@example.com"
	err = d.Users.Update(ctx, a2, "alicia@example.com", t1)
	wantKind(t, "stale Update with email", err, apperr.Conflict)
	if errors.Is(err, dao.ErrEmailTaken) {
		t.Fatalf("stale update reported as email taken")
	}
	_, err = d.Users.GetByEmail(ctx, "new@example.com")
	wantKind(t, "GetByEmail(new@)", err, apperr.NotFound)

	a1.FirstName = "X"
	err = d.Users.Update(canceled(), a1, a1.Email, t1)
	wantCanceled(t, "Update canceled", err, "update user alice: ")
	if a1.Version != 4 {
		t.Fatalf("version after canceled update %d", a1.Version)
	}
}

func TestUserUpsert(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Users.Create(ctx, newUser("bobby1", "bob@example.com")); err != nil {
		t.Fatal(err)
	}
	admin := newUser("admin", "admin@example.com")
	admin.Role = entity.RoleAdmin
	if err := d.Users.Upsert(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if got := getUser(t, d, "admin"); !reflect.DeepEqual(got, admin) {
		t.Fatalf("upserted %+v", got)
	}
	// Again, with a new password: replaces the profile, keeps the guard.
	admin.PasswordHash = "new-hash"
	if err := d.Users.Upsert(ctx, admin); err != nil {
		t.Fatal(err)
	}
	got, err := d.Users.GetByEmail(ctx, "admin@example.com")
	if err != nil || got.PasswordHash != "new-hash" || got.Role != entity.RoleAdmin {
		t.Fatalf("after second Upsert: %+v, %v", got, err)
	}
	// Another user's email is refused.
	taken := newUser("admin", "bob@example.com")
	if err := d.Users.Upsert(ctx, taken); !errors.Is(err, dao.ErrEmailTaken) {
		t.Fatalf("Upsert with bob's email: %v", err)
	}
	if got := getUser(t, d, "admin"); got.Email != "admin@example.com" || got.PasswordHash != "new-hash" {
		t.Fatalf("admin changed by a failed upsert: %+v", got)
	}
	wantCanceled(t, "Upsert canceled", d.Users.Upsert(canceled(), admin), "upsert user admin: ")
}

// TestUserTokensValidAfter: a user's TokensValidAfter is stored beside the
// document (millisecond precision) and kept by every later update; a user
// stored without it (as every user written before it existed) has none.
func TestUserTokensValidAfter(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	bob := newUser("bob_tva", "bob_tva@example.com")
	if err := d.Users.Create(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if got := getUser(t, d, "bob_tva"); !got.TokensValidAfter.IsZero() {
		t.Fatalf("new user: TokensValidAfter %v", got.TokensValidAfter)
	}
	at := t0.Add(1500 * time.Millisecond).UTC()
	u := getUser(t, d, "bob_tva")
	u.IsActive, u.TokensValidAfter = false, at
	if err := d.Users.Update(ctx, u, u.Email, t0); err != nil {
		t.Fatal(err)
	}
	got := getUser(t, d, "bob_tva")
	if !got.TokensValidAfter.Equal(at) || got.IsActive {
		t.Fatalf("after deactivation: %+v", got)
	}
	// A profile update keeps it.
	got.FirstName = "Robert"
	if err := d.Users.Update(ctx, got, got.Email, t0); err != nil {
		t.Fatal(err)
	}
	if again := getUser(t, d, "bob_tva"); !again.TokensValidAfter.Equal(at) || again.FirstName != "Robert" {
		t.Fatalf("after a profile update: %+v", again)
	}
	// It is an attribute of its own beside the document.
	it, err := dao.StoreOf(d).Get(ctx, store.Key{Table: d.Tables.Users, PK: "USER#bob_tva", SK: "PROFILE"})
	if err != nil {
		t.Fatal(err)
	}
	if it.Int("tokens_valid_after_ms") != at.UnixMilli() {
		t.Fatalf("item %v", it)
	}
}
