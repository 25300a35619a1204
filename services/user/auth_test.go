package user_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/accounts"
	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/services/user"
	"github.com/orderprocessor/orderprocessor/testenv/apitest"
	"github.com/orderprocessor/orderprocessor/trading"
)

const (
	password   = "Passw0rd!xyz12"
	registerP  = "/api/v1/auth/register"
	loginP     = "/api/v1/auth/login"
	profileP   = "/api/v1/auth/profile"
	logoutP    = "/api/v1/auth/logout"
	idemHeader = "Idempotency-Key"
)

// newEnv serves the user service over a fresh store, its account flows
// keeping the account cache of the gateway stand-in up to date, and
// returns it with the account flows.
func newEnv(t *testing.T, cfg trading.Config) (*apitest.Env, *accounts.Service) {
	t.Helper()
	e := apitest.New(t, apitest.Options{Config: cfg})
	a := accounts.New(e.Trade, e.Hasher, accounts.Options{Cache: e.Accounts})
	e.Serve(user.New(e.Trade, a, e.Issuer, e.Revoker, user.Options{Logger: e.Logger}).Register)
	return e, a
}

func registerBody(username, email string) string {
	return `{"username":"` + username + `","email":"` + email + `","password":"` + password +
		`","first_name":" Alice ","last_name":"Smith","phone":"+1 (555) 010-2030"}`
}

// login logs username in with password and returns the token.
func login(t *testing.T, e *apitest.Env, username, pw string) string {
	t.Helper()
	var resp user.LoginResponse
	e.Do("POST", loginP, "", `{"username":"`+username+`","password":"`+pw+`"}`).Want(t, http.StatusOK, &resp)
	if resp.AccessToken == "" || resp.TokenType != "bearer" || resp.ExpiresIn != int64(e.Issuer.Lifetime()/time.Second) ||
		resp.User.Username != strings.ToLower(username) {
		t.Fatalf("login %s: %+v", username, resp)
	}
	return resp.AccessToken
}

// TestRegisterLoginProfileLogout follows an account from registration to
// logout: the registered user (normalised) logs in, reads and updates the
// profile, and the token stops working at logout.
func TestRegisterLoginProfileLogout(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	rep := e.Do("POST", registerP, "", registerBody("Alice_01", "Alice@Example.com"))
	if rep.Status != http.StatusCreated || rep.Body != `{"message":"User registered successfully"}` {
		t.Fatalf("register: %d %s", rep.Status, rep.Body)
	}
	// The user has a USD balance of 0 from the start.
	b, err := e.DAOs.Balances.Get(context.Background(), "alice_01", entity.USD)
	if err != nil || !b.CurrentBalance.IsZero() {
		t.Fatalf("USD balance after registration: %+v, %v", b, err)
	}

	e.Do("POST", loginP, "", `{"username":"alice_01","password":"Wrong!passw0rd1"}`).
		WantError(t, http.StatusUnauthorized, "unauthorized", "Invalid username or password")
	e.Do("POST", loginP, "", `{"username":"nobody_1","password":"`+password+`"}`).
		WantError(t, http.StatusUnauthorized, "unauthorized", "Invalid username or password")
	e.Do("POST", loginP, "", `{"username":"alice_01"}`).WantField(t, "body.password")
	tok := login(t, e, "ALICE_01", password)

	var p entity.UserProfile
	e.Do("GET", profileP, tok, "").Want(t, http.StatusOK, &p)
	if p.Username != "alice_01" || p.Email != "alice@example.com" || p.FirstName != "Alice" || p.LastName != "Smith" ||
		p.Phone == nil || *p.Phone != "15550102030" || p.Role != entity.RoleCustomer {
		t.Fatalf("profile: %+v", p)
	}
	e.Do("GET", profileP, "", "").WantError(t, http.StatusUnauthorized, "unauthorized", "not authenticated")

	// Another user holds an email: alice cannot take it.
	e.Do("POST", registerP, "", registerBody("bobby_01", "bob@example.com")).Want(t, http.StatusCreated, nil)
	e.Do("PUT", profileP, tok, `{"email":"BOB@example.com"}`).WantError(t, http.StatusConflict, "conflict", "email already registered")
	e.Do("PUT", profileP, tok, `{"first_name":""}`).WantField(t, "body.first_name")
	var upd user.ProfileUpdateResponse
	e.Do("PUT", profileP, tok, `{"email":"alice2@example.com","last_name":"Jones"}`).Want(t, http.StatusOK, &upd)
	if !upd.Success || upd.Message != "Profile updated successfully" || upd.User.Email != "alice2@example.com" ||
		upd.User.LastName != "Jones" || upd.User.FirstName != "Alice" || !upd.Timestamp.Equal(apitest.T0) {
		t.Fatalf("profile update: %+v", upd)
	}
	// The old email is free again.
	e.Do("POST", registerP, "", registerBody("carol_01", "alice@example.com")).Want(t, http.StatusCreated, nil)

	e.Do("POST", logoutP, tok, `{`).WantField(t, "body")
	rep = e.Do("POST", logoutP, tok, `{}`)
	if rep.Status != http.StatusOK || rep.Body != `{"message":"Logged out successfully"}` {
		t.Fatalf("logout: %d %s", rep.Status, rep.Body)
	}
	e.Do("GET", profileP, tok, "").WantError(t, http.StatusUnauthorized, "unauthorized", "token revoked")
	// A new login works.
	e.Do("GET", profileP, login(t, e, "alice_01", password), "").Want(t, http.StatusOK, nil)
}

// TestRegisterRefusals: bad input is 422 with the field named, a body that
// is not JSON 422 at body, a repeated key 400, and a taken username or email 409.
func TestRegisterRefusals(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	e.Do("POST", registerP, "", registerBody("alice_01", "alice@example.com")).Want(t, http.StatusCreated, nil)
	e.Do("POST", registerP, "", `{"username":"al","email":"x@example.com","password":"`+password+`","first_name":"A","last_name":"B"}`).
		WantField(t, "body.username")
	e.Do("POST", registerP, "", `{"username":"bobby_01","email":"not-an-email","password":"short","first_name":"A","last_name":"B"}`).
		WantField(t, "body.password")
	e.Do("POST", registerP, "", `{"username":`).WantField(t, "body")
	e.Do("POST", registerP, "", `{"username":"a","Username":"b"}`).WantError(t, http.StatusBadRequest, "bad_request", "")
	e.Do("POST", registerP, "", registerBody("ALICE_01", "other@example.com")).
		WantError(t, http.StatusConflict, "conflict", "username already registered")
	e.Do("POST", registerP, "", registerBody("bobby_01", "ALICE@example.com")).
		WantError(t, http.StatusConflict, "conflict", "email already registered")
	// Nothing of the refused registrations was stored.
	if _, err := e.DAOs.Users.GetByUsername(context.Background(), "bobby_01"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("bobby_01 after refused registrations: %v", err)
	}
}

// TestRegisterIdempotent: a registration retried with its Idempotency-Key
// gets the first answer again, marked replayed, and creates nothing more;
// a replay computes no password hash; the key with another body is 409,
// and a malformed key 422.
func TestRegisterIdempotent(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	body := registerBody("alice_01", "alice@example.com")
	first := e.Do("POST", registerP, "", body, idemHeader, "reg-1")
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.Status, first.Header, first.Body)
	}
	hashes := e.Hasher.Computations()
	again := e.Do("POST", registerP, "", body, idemHeader, "reg-1")
	if n := e.Hasher.Computations() - hashes; n != 0 {
		t.Fatalf("the replay computed %d password hashes", n)
	}
	if again.Status != http.StatusCreated || again.Body != first.Body || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %s", again.Status, again.Header, again.Body)
	}
	// The same key with another password is another request.
	other := strings.Replace(body, password, "Other!passw0rd1", 1)
	e.Do("POST", registerP, "", other, idemHeader, "reg-1").
		WantError(t, http.StatusConflict, "conflict", trading.ErrIdemMismatch.Message)
	// Without the key, the retry is a second registration of a taken name.
	e.Do("POST", registerP, "", body).WantError(t, http.StatusConflict, "conflict", "username already registered")
	e.Do("POST", registerP, "", body, idemHeader, strings.Repeat("k", 256)).
		WantError(t, http.StatusUnprocessableEntity, "invalid", "Idempotency-Key must be 1-255 printable ASCII characters")
	// The password the user registered with is the first one.
	login(t, e, "alice_01", password)
}

// TestDeactivation: an admin deactivates a user, whose tokens and logins are
// then refused, and reactivates them; the admin routes refuse customers,
// unknown users, bad names and the admin's own deactivation.
func TestDeactivation(t *testing.T) {
	e, s := newEnv(t, trading.Config{})
	if err := s.ProvisionAdmin(context.Background(), "short"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("ProvisionAdmin with a weak password: %v", err)
	}
	if err := s.ProvisionAdmin(context.Background(), "Adm1n!passw0rd"); err != nil {
		t.Fatal(err)
	}
	adminTok := login(t, e, "admin", "Adm1n!passw0rd")
	e.Do("POST", registerP, "", registerBody("alice_01", "alice@example.com")).Want(t, http.StatusCreated, nil)
	tok := login(t, e, "alice_01", password)

	deact := "/api/v1/admin/users/alice_01/deactivate"
	e.Do("POST", deact, tok, "").WantError(t, http.StatusForbidden, "forbidden", "admin role required")
	e.Do("POST", "/api/v1/admin/users/nobody_9/deactivate", adminTok, "").WantError(t, http.StatusNotFound, "not_found", "")
	e.Do("POST", "/api/v1/admin/users/a-b/deactivate", adminTok, "").WantField(t, "path.username")
	e.Do("POST", "/api/v1/admin/users/admin/deactivate", adminTok, "").
		WantError(t, http.StatusConflict, "conflict", "an admin cannot deactivate their own account")

	var st user.AccountStatusResponse
	e.Do("POST", "/api/v1/admin/users/ALICE_01/deactivate", adminTok, "").Want(t, http.StatusOK, &st)
	after := apitest.T0.Add(time.Second)
	if st.Username != "alice_01" || st.IsActive || st.TokensValidAfter == nil || !st.TokensValidAfter.Equal(after) {
		t.Fatalf("deactivate: %+v", st)
	}
	e.Do("GET", profileP, tok, "").WantError(t, http.StatusUnauthorized, "unauthorized", "")
	e.Do("POST", loginP, "", `{"username":"alice_01","password":"`+password+`"}`).
		WantError(t, http.StatusForbidden, "forbidden", "account deactivated")
	e.Do("POST", loginP, "", `{"username":"alice_01","password":"Wrong!passw0rd1"}`).
		WantError(t, http.StatusUnauthorized, "unauthorized", "Invalid username or password")
	// Deactivating again changes nothing.
	var again user.AccountStatusResponse
	e.Do("POST", deact, adminTok, "").Want(t, http.StatusOK, &again)
	if again.IsActive || !again.TokensValidAfter.Equal(after) || !again.UpdatedAt.Equal(st.UpdatedAt.Time) {
		t.Fatalf("deactivate again: %+v, first %+v", again, st)
	}

	e.Clock.Advance(2 * time.Second)
	e.Do("POST", "/api/v1/admin/users/alice_01/activate", adminTok, "").Want(t, http.StatusOK, &st)
	if !st.IsActive || !st.TokensValidAfter.Equal(after) {
		t.Fatalf("activate: %+v", st)
	}
	e.Do("GET", profileP, tok, "").WantError(t, http.StatusUnauthorized, "unauthorized", "") // issued before
	e.Do("GET", profileP, login(t, e, "alice_01", password), "").Want(t, http.StatusOK, nil)

	// Provisioning again updates the admin: the new password counts.
	if err := s.ProvisionAdmin(context.Background(), "N3w!adminpassw"); err != nil {
		t.Fatal(err)
	}
	login(t, e, "admin", "N3w!adminpassw")
	e.Do("POST", loginP, "", `{"username":"admin","password":"Adm1n!passw0rd"}`).
		WantError(t, http.StatusUnauthorized, "unauthorized", "Invalid username or password")
}
