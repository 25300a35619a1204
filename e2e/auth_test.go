package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/platform"
)

func TestRegister(t *testing.T) {
	e := sharedEnv(t)
	name := uniqueName("reg")
	r := e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name)).want(t, http.StatusCreated)
	if got := r.obj(t); !reflect.DeepEqual(got, map[string]any{"message": "User registered successfully"}) {
		t.Fatalf("body %s", r.Body)
	}
	// The new user has a USD balance of 0 from the same transaction.
	u := &user{name: strings.ToLower(name), token: e.login(t, name, userPassword)}
	e.wantBalance(t, u, "0.00")

	t.Run("duplicate username any case", func(t *testing.T) {
		b := registerBody(strings.ToUpper(name))
		b["email"] = "other_" + strings.ToLower(name) + "@example.com"
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", b).serviceError(t, http.StatusConflict, "conflict")
	})
	t.Run("duplicate email any case", func(t *testing.T) {
		b := registerBody(uniqueName("reg"))
		b["email"] = strings.ToUpper(strings.ToLower(name) + "@example.com")
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", b).serviceError(t, http.StatusConflict, "conflict")
	})

	long := strings.Repeat("a", 51)
	cases := []struct {
		name  string
		field string
		value any
	}{
		{"username too short", "username", "abcde"},
		{"username too long", "username", strings.Repeat("u", 31)},
		{"username bad chars", "username", "bad-name!"},
		{"username missing", "username", ""},
		{"username markup", "username", "<script>x"},
		{"email invalid", "email", "not-an-email"},
		{"email no tld", "email", "a@b"},
		{"email missing", "email", ""},
		{"email markup", "email", "<script>@example.com"},
		{"email too long", "email", strings.Repeat("e", 250) + "@example.com"},
		{"password too short", "password", "Sh0rt!pw"},
		{"password too long", "password", "Abcdefghij1!abcdefghi"},
		{"password no upper", "password", "nouppercase12!"},
		{"password no lower", "password", "NOLOWERCASE12!"},
		{"password no digit", "password", "NoDigitsHere!!"},
		{"password no special", "password", "NoSpecial1234a"},
		{"password markup", "password", "<script>Aa1!xyz"},
		{"first name whitespace only", "first_name", "   "},
		{"first name missing", "first_name", ""},
		{"first name digits", "first_name", "John3"},
		{"first name too long", "first_name", long},
		{"first name markup", "first_name", "<script>alert(1)</script>"},
		{"last name javascript", "last_name", "javascript:alert(1)"},
		{"last name whitespace only", "last_name", "\t \n"},
		{"phone too short", "phone", "123"},
		{"phone letters", "phone", "abc1234567890"},
		{"phone too long", "phone", "1234567890123456"},
		{"dob bad month", "date_of_birth", "2000-13-01"},
		{"dob wrong format", "date_of_birth", "01/02/1990"},
		{"dob too young", "date_of_birth", time.Now().UTC().AddDate(-5, 0, 0).Format("2006-01-02")},
		{"dob too old", "date_of_birth", "1800-01-01"},
		{"username wrong type", "username", 12345678},
		{"marketing consent wrong type", "marketing_emails_consent", "yes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := registerBody(uniqueName("reg"))
			b[c.field] = c.value
			m := e.do(t, http.MethodPost, "/api/v1/auth/register", "", b).serviceError(t, http.StatusUnprocessableEntity, "invalid")
			if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body." + c.field}) {
				t.Fatalf("locs %v, want [body.%s]", locs, c.field)
			}
		})
	}
	t.Run("valid optional fields", func(t *testing.T) {
		n := uniqueName("reg")
		b := registerBody(n)
		b["phone"] = "+1 (555) 123-4567"
		b["date_of_birth"] = "1990-05-17"
		b["marketing_emails_consent"] = true
		b["first_name"] = "  Mary-Jane  "
		b["last_name"] = "O'Neil"
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", b).want(t, http.StatusCreated)
		tok := e.login(t, n, userPassword)
		p := e.do(t, http.MethodGet, "/api/v1/auth/profile", tok, nil).want(t, http.StatusOK).obj(t)
		want := map[string]any{"phone": "15551234567", "date_of_birth": "1990-05-17", "marketing_emails_consent": true,
			"first_name": "Mary-Jane", "last_name": "O'Neil", "username": strings.ToLower(n), "email": strings.ToLower(n) + "@example.com",
			"role": "customer"}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s = %v, want %v", k, p[k], v)
			}
		}
	})
}

func TestLogin(t *testing.T) {
	e := sharedEnv(t)
	name := uniqueName("login")
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name)).want(t, http.StatusCreated)

	r := e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": strings.ToUpper(name), "password": userPassword}).
		want(t, http.StatusOK)
	m := r.obj(t)
	keys := sortedKeys(m)
	if !slices.Equal(keys, []string{"access_token", "expires_in", "token_type", "user"}) {
		t.Fatalf("keys %v", keys)
	}
	if m["token_type"] != "bearer" || m["expires_in"] != json.Number("3600") {
		t.Fatalf("token_type %v expires_in %v", m["token_type"], m["expires_in"])
	}
	prof := m["user"].(map[string]any)
	wantProfileKeys := []string{"created_at", "date_of_birth", "email", "first_name", "last_name", "marketing_emails_consent", "phone", "role", "updated_at", "username"}
	if got := sortedKeys(prof); !slices.Equal(got, wantProfileKeys) {
		t.Fatalf("profile keys %v", got)
	}
	lower := strings.ToLower(name)
	if prof["username"] != lower || prof["email"] != lower+"@example.com" || prof["role"] != "customer" ||
		prof["phone"] != nil || prof["date_of_birth"] != nil || prof["marketing_emails_consent"] != false ||
		prof["first_name"] != "Test" || prof["last_name"] != "User" {
		t.Fatalf("profile %v", prof)
	}

	t.Run("jwt payload", func(t *testing.T) {
		parts := strings.Split(m["access_token"].(string), ".")
		if len(parts) != 3 {
			t.Fatalf("token has %d parts", len(parts))
		}
		hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil || !strings.Contains(string(hdr), `"HS256"`) {
			t.Fatalf("header %s %v", hdr, err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range payload {
			if c >= 0x80 || c < 0x20 {
				t.Fatalf("payload is not plain ASCII: %q", payload)
			}
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["sub"] != lower || claims["role"] != "customer" || claims["type"] != "access_token" {
			t.Fatalf("claims %v", claims)
		}
		jti, _ := claims["jti"].(string)
		exp, ok1 := claims["exp"].(float64)
		iat, ok2 := claims["iat"].(float64)
		if jti == "" || !ok1 || !ok2 || exp-iat != 3600 {
			t.Fatalf("claims %v", claims)
		}
		if now := float64(time.Now().Unix()); iat > now+5 || iat < now-60 {
			t.Fatalf("iat %v far from now", iat)
		}
	})

	t.Run("no user enumeration", func(t *testing.T) {
		wrong := e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": name, "password": "Wr0ng!Password"})
		unknown := e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": uniqueName("nobody"), "password": userPassword})
		wb := wrong.serviceError(t, http.StatusUnauthorized, "unauthorized")
		ub := unknown.serviceError(t, http.StatusUnauthorized, "unauthorized")
		if !reflect.DeepEqual(wb, ub) || !reflect.DeepEqual(wb, map[string]any{"detail": "Invalid username or password", "code": "unauthorized"}) {
			t.Fatalf("bodies differ: %s vs %s", wrong.Body, unknown.Body)
		}
	})

	for _, c := range []struct {
		name, username, password, field string
	}{
		{"username too short", "abc", userPassword, "username"},
		{"username too long", strings.Repeat("a", 31), userPassword, "username"},
		{"password too short", name, "short", "password"},
		{"password too long", name, strings.Repeat("P", 21), "password"},
		{"username missing", "", userPassword, "username"},
		{"password missing", name, "", "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": c.username, "password": c.password}).
				serviceError(t, http.StatusUnprocessableEntity, "invalid")
			if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body." + c.field}) {
				t.Fatalf("locs %v", locs)
			}
		})
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestProfile(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	other := e.newUser(t)

	p := e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK).obj(t)
	want := []string{"created_at", "date_of_birth", "email", "first_name", "last_name", "marketing_emails_consent", "phone", "role", "updated_at", "username"}
	if got := sortedKeys(p); !slices.Equal(got, want) {
		t.Fatalf("profile keys %v", got)
	}
	if p["username"] != strings.ToLower(u.name) {
		t.Fatalf("username %v", p["username"])
	}

	r := e.do(t, http.MethodPut, "/api/v1/auth/profile", u.token, map[string]any{
		"first_name": "Alice", "phone": "+44 20 7946 0958", "date_of_birth": "1985-02-03", "marketing_emails_consent": true,
	}).want(t, http.StatusOK)
	m := r.obj(t)
	if got := sortedKeys(m); !slices.Equal(got, []string{"message", "success", "timestamp", "user"}) {
		t.Fatalf("keys %v", got)
	}
	if m["success"] != true || m["message"] != "Profile updated successfully" {
		t.Fatalf("body %s", r.Body)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string)); err != nil {
		t.Fatalf("timestamp: %v", err)
	}
	up := m["user"].(map[string]any)
	if up["first_name"] != "Alice" || up["last_name"] != "User" || up["phone"] != "442079460958" ||
		up["date_of_birth"] != "1985-02-03" || up["marketing_emails_consent"] != true {
		t.Fatalf("user %v", up)
	}

	t.Run("phone empty clears", func(t *testing.T) {
		m := e.do(t, http.MethodPut, "/api/v1/auth/profile", u.token, map[string]any{"phone": ""}).want(t, http.StatusOK).obj(t)
		if ph := m["user"].(map[string]any)["phone"]; ph != nil {
			t.Fatalf("phone %v, want null", ph)
		}
		p := e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK).obj(t)
		if p["phone"] != nil || p["first_name"] != "Alice" {
			t.Fatalf("profile %v", p)
		}
	})
	t.Run("email taken", func(t *testing.T) {
		e.do(t, http.MethodPut, "/api/v1/auth/profile", u.token, map[string]any{"email": strings.ToUpper(other.email)}).
			serviceError(t, http.StatusConflict, "conflict")
		p := e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK).obj(t)
		if p["email"] != strings.ToLower(u.email) {
			t.Fatalf("email changed to %v", p["email"])
		}
	})
	t.Run("email change frees the old one", func(t *testing.T) {
		newEmail := "new_" + strings.ToLower(u.name) + "@example.org"
		m := e.do(t, http.MethodPut, "/api/v1/auth/profile", u.token, map[string]any{"email": strings.ToUpper(newEmail)}).
			want(t, http.StatusOK).obj(t)
		if got := m["user"].(map[string]any)["email"]; got != newEmail {
			t.Fatalf("email %v", got)
		}
		b := registerBody(uniqueName("reg"))
		b["email"] = u.email
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", b).want(t, http.StatusCreated)
	})
	for _, c := range []struct{ field, value string }{
		{"first_name", "   "}, {"last_name", "<b>x</b>"}, {"email", "bad"}, {"phone", "12"}, {"date_of_birth", "1990-02-30"},
	} {
		t.Run("invalid "+c.field, func(t *testing.T) {
			m := e.do(t, http.MethodPut, "/api/v1/auth/profile", u.token, map[string]any{c.field: c.value}).
				serviceError(t, http.StatusUnprocessableEntity, "invalid")
			if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body." + c.field}) {
				t.Fatalf("locs %v", locs)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		e.do(t, http.MethodGet, "/api/v1/auth/profile", "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		e.do(t, http.MethodPut, "/api/v1/auth/profile", "", map[string]any{"first_name": "X"}).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
}

func TestAuthHeaders(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	parts := strings.Split(u.token, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","role":"admin","type":"access_token","exp":9999999999,"iat":1,"jti":"x"}`)) + "." + parts[2]
	for _, c := range []struct{ name, header string }{
		{"bearer only", "Bearer"},
		{"basic", "Basic dXNlcjpwYXNz"},
		{"no scheme", u.token},
		{"empty bearer", "Bearer "},
		{"garbage token", "Bearer abc.def.ghi"},
		{"tampered payload", "Bearer " + tampered},
	} {
		t.Run(c.name, func(t *testing.T) {
			// 401 comes before any validation of the (invalid) body.
			e.do(t, http.MethodPost, "/api/v1/balance/deposit", "", raw("{not json"), "Authorization", c.header).
				gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		})
	}
	t.Run("public route ignores a bad token", func(t *testing.T) {
		e.do(t, http.MethodGet, "/api/v1/inventory/assets/BTC", "", nil, "Authorization", "Basic x").want(t, http.StatusOK)
	})
}

func TestLogout(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	// No body: 422, and the token still works.
	m := e.do(t, http.MethodPost, "/api/v1/auth/logout", u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body"}) {
		t.Fatalf("locs %v", locs)
	}
	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK)

	r := e.do(t, http.MethodPost, "/api/v1/auth/logout", u.token, map[string]any{}).want(t, http.StatusOK)
	if got := r.obj(t); !reflect.DeepEqual(got, map[string]any{"message": "Logged out successfully"}) {
		t.Fatalf("body %s", r.Body)
	}
	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	e.do(t, http.MethodPost, "/api/v1/auth/logout", u.token, map[string]any{}).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	// A new login gives a working token again.
	tok := e.login(t, u.name, userPassword)
	e.do(t, http.MethodGet, "/api/v1/auth/profile", tok, nil).want(t, http.StatusOK)
}

func TestAdminLogin(t *testing.T) {
	e := sharedEnv(t)
	if e.adminLoginErr != nil {
		t.Fatalf("the provisioned admin cannot log in with AdminPassword: %v", e.adminLoginErr)
	}
	tok, err := e.adminLogin(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	p := e.do(t, http.MethodGet, "/api/v1/auth/profile", tok, nil).want(t, http.StatusOK).obj(t)
	if p["username"] != "admin" || p["role"] != "admin" {
		t.Fatalf("admin profile %v", p)
	}
}

func TestExpiredToken(t *testing.T) {
	var offset atomic.Int64 // nanoseconds added to the wall clock
	e := newEnv(t, func(c *platform.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		c.TokenLifetime = 10 * time.Minute
	})
	u := e.newUser(t)
	var lr struct {
		ExpiresIn int64 `json:"expires_in"`
	}
	e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": userPassword}).
		want(t, http.StatusOK).into(t, &lr)
	if lr.ExpiresIn != 600 {
		t.Fatalf("expires_in %d", lr.ExpiresIn)
	}
	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK)
	offset.Store(int64(11 * time.Minute))
	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	// A public route ignores the expired token.
	e.do(t, http.MethodGet, "/api/v1/inventory/assets/BTC", u.token, nil).want(t, http.StatusOK)
	tok := e.login(t, u.name, userPassword)
	e.do(t, http.MethodGet, "/api/v1/auth/profile", tok, nil).want(t, http.StatusOK)
}
