package main

import (
	"testing"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

const validSecret = "0123456789abcdef0123456789abcdef"

// TestServeRoleFlags: bad roles and stores, and a role without the shared
// JWT secret, are usage errors (exit 2) before anything is opened.
func TestServeRoleFlags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret string
		args   []string
	}{
		{"unknown role", validSecret, []string{"--role", "cashier"}},
		{"unknown store", validSecret, []string{"--store", "sqlite"}},
		{"role without secret", "", []string{"--role", "order"}},
		{"gateway without secret", "", []string{"--role", "gateway", "--user-url", "http://u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ORDERPROCESSOR_JWT_SECRET", tc.secret)
			args := append([]string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)
			if code := runServe(args); code != 2 {
				t.Fatalf("serve %v = %d, want 2", tc.args, code)
			}
		})
	}
}

// TestStoreProcs: one more P than the default with the embedded store; the
// default (0) with any other store, with none, and when the GOMAXPROCS
// variable is set.
func TestStoreProcs(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name string
		db   store.Store
		env  string
		want int
	}{
		{"embedded", db, "", 3},
		{"embedded, GOMAXPROCS set", db, "2", 0},
		{"no store (gateway role)", nil, "", 0},
		{"another engine", otherStore{db}, "", 0},
	} {
		if got := storeProcs(tc.db, tc.env, 2); got != tc.want {
			t.Errorf("%s: storeProcs = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// otherStore is a store that is not the embedded engine's type.
type otherStore struct{ store.Store }
