package user

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestRegisterTakenInAnyOrder: a registration refused by the store is
// answered username taken or email taken (the username first) whatever the
// order of the transaction's writes.
func TestRegisterTakenInAnyOrder(t *testing.T) {
	testenv.InEveryTxOrder(t, 5, testRegisterTaken)
}

func testRegisterTaken(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hasher, err := auth.NewHasher(auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	d := trading.NewDAOs(db, dao.DefaultTables)
	s := New(trading.New(d, trading.DefaultConfig(), trading.Options{}), nil, hasher, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	api := httpapi.New(httpapi.Options{})
	s.Register(api)
	register := func(username, email string) (int, string) {
		body := `{"username":"` + username + `","email":"` + email + `","password":"Passw0rd!xyz12","first_name":"Re","last_name":"Gister"}`
		r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/register", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		var resp struct {
			Detail any `json:"detail"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &resp)
		detail, _ := resp.Detail.(string)
		return w.Code, detail
	}
	if code, detail := register("alice1", "alice@example.com"); code != http.StatusCreated {
		t.Fatalf("register alice1: %d %q", code, detail)
	}
	for _, tc := range []struct {
		username, email string
		want            error
	}{
		{"alice1", "other@example.com", dao.ErrUsernameTaken},
		{"bobby1", "alice@example.com", dao.ErrEmailTaken},
		{"alice1", "alice@example.com", dao.ErrUsernameTaken},
	} {
		if code, detail := register(tc.username, tc.email); code != http.StatusConflict || detail != tc.want.Error() {
			t.Errorf("register %s %s: %d %q, want 409 %q", tc.username, tc.email, code, detail, tc.want)
		}
	}
	// A user whose balance outlived the profile: the username is taken.
	if err := db.Delete(context.Background(), store.Delete{Key: store.Key{Table: dao.DefaultTables.Users, PK: "USER#alice1", SK: "PROFILE"}}); err != nil {
		t.Fatal(err)
	}
	if code, detail := register("alice1", "alice2@example.com"); code != http.StatusConflict || detail != dao.ErrUsernameTaken.Error() {
		t.Errorf("register alice1 over her balance: %d %q, want 409 %q", code, detail, dao.ErrUsernameTaken)
	}
}
