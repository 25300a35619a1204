package main

import "testing"

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
