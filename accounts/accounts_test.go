package accounts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/accounts"
	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
	"github.com/orderprocessor/orderprocessor/trading"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const password = "Passw0rd!xyz12"

type env struct {
	db     store.Store
	d      *dao.DAOs
	trade  *trading.Service
	hasher *auth.Hasher
	cache  *auth.AccountCache
	clock  *fakeclock.Clock
	a      *accounts.Service
}

// newEnv returns the account flows over a fresh store of the engine under
// test, with an account cache that reads the store.
func newEnv(t *testing.T) *env {
	t.Helper()
	db, tables := testenv.Store(t)
	e := &env{db: db, clock: fakeclock.New(t0)}
	e.d = trading.NewDAOs(db, tables)
	e.trade = trading.New(e.d, trading.Config{}, trading.Options{Now: e.clock.Now})
	var err error
	if e.hasher, err = auth.NewHasher(auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}); err != nil {
		t.Fatal(err)
	}
	e.cache = auth.NewAccountCache(func(ctx context.Context, username string) (auth.Account, error) {
		u, err := e.d.Users.GetByUsername(ctx, username)
		if apperr.Is(err, apperr.NotFound) {
			return auth.Account{}, nil
		}
		if err != nil {
			return auth.Account{}, err
		}
		return auth.Account{Exists: true, Active: u.IsActive, ValidAfter: u.TokensValidAfter}, nil
	}, auth.AccountCacheOptions{Now: e.clock.Now, TTL: time.Hour})
	e.a = accounts.New(e.trade, e.hasher, accounts.Options{Cache: e.cache})
	return e
}

func (e *env) register(t *testing.T, username, email string, idem *trading.Idem) (*trading.Replay, error) {
	t.Helper()
	req := entity.UserCreate{Username: username, Email: email, Password: password, FirstName: "Re", LastName: "Gister"}
	if err := req.Validate(e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return e.a.Register(context.Background(), req, idem)
}

// TestRegisterTakenInAnyOrder: a registration refused by the store is
// username taken or email taken (the username first), whatever the order of
// the transaction's writes; a refused registration stores nothing.
func TestRegisterTakenInAnyOrder(t *testing.T) {
	testenv.InEveryTxOrder(t, 5, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		if _, err := e.register(t, "alice1", "alice@example.com", nil); err != nil {
			t.Fatal(err)
		}
		u, err := e.d.Users.GetByUsername(ctx, "alice1")
		if err != nil || u.Role != entity.RoleCustomer || !u.IsActive || u.Email != "alice@example.com" {
			t.Fatalf("registered: %+v, %v", u, err)
		}
		if b, err := e.d.Balances.Get(ctx, "alice1", entity.USD); err != nil || !b.CurrentBalance.IsZero() {
			t.Fatalf("first balance: %+v, %v", b, err)
		}
		for _, tc := range []struct {
			username, email string
			want            error
		}{
			{"alice1", "other@example.com", dao.ErrUsernameTaken},
			{"bobby1", "alice@example.com", dao.ErrEmailTaken},
			{"alice1", "alice@example.com", dao.ErrUsernameTaken},
		} {
			if _, err := e.register(t, tc.username, tc.email, nil); !errors.Is(err, tc.want) {
				t.Errorf("register %s %s: %v, want %v", tc.username, tc.email, err, tc.want)
			}
		}
		if _, err := e.d.Users.GetByUsername(ctx, "bobby1"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("bobby1 after a refused registration: %v", err)
		}
		// A user whose balance outlived the profile: the username is taken.
		if err := e.db.Delete(ctx, store.Delete{Key: store.Key{Table: e.d.Tables.Users, PK: "USER#alice1", SK: "PROFILE"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.register(t, "alice1", "alice2@example.com", nil); !errors.Is(err, dao.ErrUsernameTaken) {
			t.Errorf("register alice1 over her balance: %v", err)
		}
	})
}

// TestRegisterIdempotent: a registration with an idempotency record is
// replayed from it without computing a password hash; the key with another
// request is trading.ErrIdemMismatch.
func TestRegisterIdempotent(t *testing.T) {
	e := newEnv(t)
	render := func(result any) (int, []byte, error) {
		return 201, []byte(result.(*entity.User).Username), nil
	}
	idem := e.trade.Idem("", "register", &trading.IdemRequest{Key: "k1", Hash: "h1", Render: render})
	if rep, err := e.register(t, "alice1", "alice@example.com", idem); rep != nil || err != nil {
		t.Fatalf("first: %+v, %v", rep, err)
	}
	hashes := e.hasher.Computations()
	rep, err := e.register(t, "alice1", "alice@example.com", idem)
	if err != nil || rep == nil || rep.Status != 201 || string(rep.Body) != "alice1" || rep.ReqHash != "h1" {
		t.Fatalf("replay: %+v, %v", rep, err)
	}
	if n := e.hasher.Computations() - hashes; n != 0 {
		t.Fatalf("the replay computed %d hashes", n)
	}
	other := e.trade.Idem("", "register", &trading.IdemRequest{Key: "k1", Hash: "h2", Render: render})
	if _, err := e.register(t, "bobby1", "bob@example.com", other); !errors.Is(err, trading.ErrIdemMismatch) {
		t.Fatalf("the key with another request: %v", err)
	}
	// The same key for another operation is another record.
	if e.trade.Idem("", "login", &trading.IdemRequest{Key: "k1"}).Key == idem.Key ||
		e.trade.Idem("alice1", "register", &trading.IdemRequest{Key: "k1"}).Key == idem.Key {
		t.Fatal("one key names one record across operations or callers")
	}
	if e.trade.Idem("alice1", "deposit", nil) != nil {
		t.Fatal("Idem of no request is not nil")
	}
}

// TestAuthenticate: the right password of an active user passes; a wrong
// one and an unknown user are the same error after the same password work;
// a deactivated user's right password is ErrDeactivated.
func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.register(t, "alice1", "alice@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if u, err := e.a.Authenticate(ctx, "ALICE1", password); err != nil || u.Username != "alice1" {
		t.Fatalf("right password: %+v, %v", u, err)
	}
	for _, c := range []struct{ user, pw string }{{"alice1", "Wrong!passw0rd1"}, {"nobody1", password}} {
		before := e.hasher.Computations()
		if _, err := e.a.Authenticate(ctx, c.user, c.pw); err != accounts.ErrBadCredentials {
			t.Errorf("%s/%s: %v, want ErrBadCredentials", c.user, c.pw, err)
		}
		if n := e.hasher.Computations() - before; n != 1 {
			t.Errorf("%s/%s: %d password computations, want 1", c.user, c.pw, n)
		}
	}
	if _, err := e.a.SetActive(ctx, "alice1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Authenticate(ctx, "alice1", password); err != accounts.ErrDeactivated {
		t.Fatalf("deactivated: %v", err)
	}
	if _, err := e.a.Authenticate(ctx, "alice1", "Wrong!passw0rd1"); err != accounts.ErrBadCredentials {
		t.Fatalf("deactivated, wrong password: %v", err)
	}
}

// TestSetActive: deactivation sets TokensValidAfter to the next whole
// second and tells the account cache at once (a token issued before is
// refused without a store read); setting the state the user is in changes
// nothing; reactivation keeps TokensValidAfter; an unknown user is
// not_found.
func TestSetActive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.register(t, "alice1", "alice@example.com", nil); err != nil {
		t.Fatal(err)
	}
	claims := auth.Claims{Username: "alice1", Role: entity.RoleCustomer, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := e.cache.Check(ctx, claims); err != nil { // cached as active
		t.Fatal(err)
	}
	e.clock.Advance(300 * time.Millisecond)
	u, err := e.a.SetActive(ctx, "alice1", false)
	after := t0.Add(time.Second)
	if err != nil || u.IsActive || !u.TokensValidAfter.Equal(after) || u.Version != 2 {
		t.Fatalf("deactivate: %+v, %v", u, err)
	}
	if err := e.cache.Check(ctx, claims); err == nil {
		t.Fatal("the cache admits a token of a deactivated user")
	}
	again, err := e.a.SetActive(ctx, "alice1", false)
	if err != nil || again.Version != 2 || !again.TokensValidAfter.Equal(after) {
		t.Fatalf("deactivate again: %+v, %v", again, err)
	}
	e.clock.Advance(5 * time.Second)
	u, err = e.a.SetActive(ctx, "alice1", true)
	if err != nil || !u.IsActive || !u.TokensValidAfter.Equal(after) || u.Version != 3 {
		t.Fatalf("activate: %+v, %v", u, err)
	}
	stored, err := e.a.User(ctx, "alice1")
	if err != nil || !stored.IsActive || !stored.TokensValidAfter.Equal(after) || stored.Version != 3 {
		t.Fatalf("stored: %+v, %v", stored, err)
	}
	if _, err := e.a.SetActive(ctx, "nobody1", false); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestUpdateProfile: a profile change is stored with its time, moves the
// email guard (the old email is free again), and a taken email is refused.
func TestUpdateProfile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, u := range []string{"alice1", "bobby1"} {
		if _, err := e.register(t, u, u+"@example.com", nil); err != nil {
			t.Fatal(err)
		}
	}
	taken := "bobby1@example.com"
	if _, err := e.a.UpdateProfile(ctx, "alice1", entity.UserProfileUpdate{Email: &taken}); !errors.Is(err, dao.ErrEmailTaken) {
		t.Fatalf("taken email: %v", err)
	}
	e.clock.Advance(time.Minute)
	email, last := "alice2@example.com", "Jones"
	u, err := e.a.UpdateProfile(ctx, "alice1", entity.UserProfileUpdate{Email: &email, LastName: &last})
	if err != nil || u.Email != email || u.LastName != last || u.FirstName != "Re" || !u.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("update: %+v, %v", u, err)
	}
	if _, err := e.register(t, "carol1", "alice1@example.com", nil); err != nil {
		t.Fatalf("the old email is not free: %v", err)
	}
	if _, err := e.a.UpdateProfile(ctx, "nobody1", entity.UserProfileUpdate{LastName: &last}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestProvisionAdmin: a password outside the rules is refused; the admin is
// created with the admin role and a USD balance, and provisioning again
// replaces the password and reactivates it.
func TestProvisionAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.a.ProvisionAdmin(ctx, "weak"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("weak password: %v", err)
	}
	if err := e.a.ProvisionAdmin(ctx, "Adm1n!passw0rd"); err != nil {
		t.Fatal(err)
	}
	u, err := e.a.Authenticate(ctx, "admin", "Adm1n!passw0rd")
	if err != nil || u.Role != entity.RoleAdmin || u.Email != "admin@orderprocessor.local" {
		t.Fatalf("admin: %+v, %v", u, err)
	}
	if _, err := e.d.Balances.Get(ctx, "admin", entity.USD); err != nil {
		t.Fatalf("admin balance: %v", err)
	}
	if _, err := e.a.SetActive(ctx, "admin", false); err != nil {
		t.Fatal(err)
	}
	if err := e.a.ProvisionAdmin(ctx, "N3w!adminpassw"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Authenticate(ctx, "admin", "Adm1n!passw0rd"); err != accounts.ErrBadCredentials {
		t.Fatalf("old password: %v", err)
	}
	if u, err := e.a.Authenticate(ctx, "admin", "N3w!adminpassw"); err != nil || !u.IsActive {
		t.Fatalf("new password: %+v, %v", u, err)
	}
}
