package e2e

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDeactivateUser: an admin deactivates a user: every token of the user
// is refused at once (401 "account deactivated"), on the order path too,
// and a login with the right password is refused (403); reactivation lets
// the user log in again while the tokens issued before the deactivation
// stay refused (401 "token revoked"). Only admins may do it; an unknown
// user is 404.
func TestDeactivateUser(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	e.deposit(t, u, "100")
	second := e.login(t, u.name, userPassword)
	name := strings.ToLower(u.name)
	deactivate := "/api/v1/admin/users/" + u.name + "/deactivate"
	activate := "/api/v1/admin/users/" + u.name + "/activate"

	t.Run("admin only", func(t *testing.T) {
		e.do(t, http.MethodPost, deactivate, u.token, nil).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
		e.do(t, http.MethodPost, activate, u.token, nil).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
		e.do(t, http.MethodPost, deactivate, "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
	t.Run("unknown user", func(t *testing.T) {
		m := e.do(t, http.MethodPost, "/api/v1/admin/users/"+uniqueName("nobody")+"/deactivate", e.admin, nil).
			serviceError(t, http.StatusNotFound, "not_found")
		if m["detail"] != "user not found" {
			t.Fatalf("body %v", m)
		}
		e.do(t, http.MethodPost, "/api/v1/admin/users/"+uniqueName("nobody")+"/activate", e.admin, nil).
			serviceError(t, http.StatusNotFound, "not_found")
	})
	t.Run("bad username", func(t *testing.T) {
		m := e.do(t, http.MethodPost, "/api/v1/admin/users/ab%21cd/deactivate", e.admin, nil).
			serviceError(t, http.StatusUnprocessableEntity, "invalid")
		if locs := fieldLocs(t, m); !reflect.DeepEqual(locs, []string{"path.username"}) {
			t.Fatalf("locs %v", locs)
		}
	})
	t.Run("not oneself", func(t *testing.T) {
		e.do(t, http.MethodPost, "/api/v1/admin/users/admin/deactivate", e.admin, nil).serviceError(t, http.StatusConflict, "conflict")
		e.do(t, http.MethodGet, "/api/v1/auth/profile", e.admin, nil).want(t, http.StatusOK)
	})

	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK)
	var st struct {
		Username         string  `json:"username"`
		IsActive         bool    `json:"is_active"`
		TokensValidAfter *string `json:"tokens_valid_after"`
		UpdatedAt        string  `json:"updated_at"`
	}
	r := e.do(t, http.MethodPost, "/api/v1/admin/users/"+strings.ToUpper(u.name)+"/deactivate", e.admin, nil).want(t, http.StatusOK)
	r.into(t, &st)
	if st.Username != name || st.IsActive || st.TokensValidAfter == nil {
		t.Fatalf("deactivate: %s", r.Body)
	}
	validAfter, err := time.Parse(time.RFC3339Nano, *st.TokensValidAfter)
	if err != nil || validAfter.Nanosecond() != 0 || time.Until(validAfter) > time.Second || time.Until(validAfter) < -time.Minute {
		t.Fatalf("tokens_valid_after %q (%v): want the next whole second", *st.TokensValidAfter, err)
	}

	// Every token is refused at once, on every authenticated route.
	for _, tok := range []string{u.token, second} {
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/api/v1/auth/profile", nil},
			{http.MethodGet, "/api/v1/balance", nil},
			{http.MethodPost, "/api/v1/orders", map[string]any{"order_type": "market_buy", "asset_id": "BTC", "quantity": "0.0001"}},
			{http.MethodPost, "/api/v1/auth/logout", map[string]any{}},
		} {
			m := e.do(t, req.method, req.path, tok, req.body).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
			if m["message"] != "account deactivated" {
				t.Fatalf("%s %s: message %v", req.method, req.path, m["message"])
			}
		}
	}
	// A public route ignores the token.
	e.do(t, http.MethodGet, "/api/v1/inventory/assets/BTC", u.token, nil).want(t, http.StatusOK)

	// Login: the right password gets a clear 403; a wrong one the usual 401.
	login := func(password string) response {
		return e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": password})
	}
	if m := login(userPassword).serviceError(t, http.StatusForbidden, "forbidden"); m["detail"] != "account deactivated" {
		t.Fatalf("login of a deactivated user: %v", m)
	}
	if m := login("Wr0ng!Password").serviceError(t, http.StatusUnauthorized, "unauthorized"); m["detail"] != "Invalid username or password" {
		t.Fatalf("wrong password of a deactivated user: %v", m)
	}
	// Deactivating again changes nothing.
	var again struct {
		TokensValidAfter *string `json:"tokens_valid_after"`
		IsActive         bool    `json:"is_active"`
	}
	e.do(t, http.MethodPost, deactivate, e.admin, nil).want(t, http.StatusOK).into(t, &again)
	if again.IsActive || again.TokensValidAfter == nil || *again.TokensValidAfter != *st.TokensValidAfter {
		t.Fatalf("second deactivation changed the account: %+v", again)
	}

	// Reactivation: a new login works at once; the old tokens stay dead.
	r = e.do(t, http.MethodPost, activate, e.admin, nil).want(t, http.StatusOK)
	var act map[string]any
	if err := json.Unmarshal(r.Body, &act); err != nil {
		t.Fatal(err)
	}
	if act["is_active"] != true || act["tokens_valid_after"] != *st.TokensValidAfter || act["username"] != name {
		t.Fatalf("activate: %s", r.Body)
	}
	fresh := e.login(t, u.name, userPassword)
	e.do(t, http.MethodGet, "/api/v1/auth/profile", fresh, nil).want(t, http.StatusOK)
	e.wantBalance(t, &user{name: u.name, token: fresh}, "100.00")
	for _, tok := range []string{u.token, second} {
		m := e.do(t, http.MethodGet, "/api/v1/auth/profile", tok, nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		if m["message"] != "token revoked" {
			t.Fatalf("old token after reactivation: message %v", m["message"])
		}
	}
	e.verifyOK(t)
}

// TestDeactivateUserDocumented: the account routes are in the OpenAPI
// document, admin-only.
func TestDeactivateUserDocumented(t *testing.T) {
	e := sharedEnv(t)
	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string           `json:"operationId"`
			Security    []map[string]any `json:"security"`
			Responses   map[string]any   `json:"responses"`
		} `json:"paths"`
	}
	e.do(t, http.MethodGet, "/openapi.json", "", nil).want(t, http.StatusOK).into(t, &spec)
	for path, id := range map[string]string{
		"/api/v1/admin/users/{username}/deactivate": "deactivateUser",
		"/api/v1/admin/users/{username}/activate":   "activateUser",
	} {
		op, ok := spec.Paths[path]["post"]
		if !ok {
			t.Fatalf("%s not documented", path)
		}
		if op.OperationID != id || len(op.Security) == 0 {
			t.Errorf("%s: %+v", path, op)
		}
		for _, code := range []string{"200", "401", "403", "404", "422"} {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: no %s response documented", path, code)
			}
		}
	}
}
