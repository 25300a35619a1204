package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
)

// keepOpen lets a platform close without closing its store, so that the
// next one (the restarted process) opens on the same tables.
type keepOpen struct{ store.Store }

func (keepOpen) Close() error { return nil }

// restartable returns a platform configuration that a test can start, close
// and start again on the same data: on the embedded engine the platform
// opens and closes the data directory itself; on DynamoDB every start uses
// the same tables.
func restartable(t *testing.T) platform.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := baseConfig(dir)
	if testenv.Engine() != "embedded" {
		db, tables, cleanup, err := testenv.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		cfg.Store, cfg.Tables = keepOpen{db}, tables
	}
	return cfg
}

func startOn(t *testing.T, cfg platform.Config) *env {
	t.Helper()
	p, err := platform.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open platform: %v", err)
	}
	e, err := serveEnv(p, cfg)
	if err != nil {
		_ = p.Close()
		t.Fatal(err)
	}
	return e
}

// TestLogoutSurvivesRestart: a token revoked by logout stays refused after
// the all-in-one process restarts on the same data, while a token that was
// not revoked keeps working.
func TestLogoutSurvivesRestart(t *testing.T) {
	cfg := restartable(t)
	e := startOn(t, cfg)
	u := e.newUser(t)
	kept := e.login(t, u.name, userPassword)
	e.do(t, http.MethodPost, "/api/v1/auth/logout", u.token, map[string]any{}).want(t, http.StatusOK)
	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	e.close()

	e = startOn(t, cfg)
	defer e.close()
	m := e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	if m["message"] != "token revoked" {
		t.Fatalf("message %v, want token revoked", m["message"])
	}
	e.do(t, http.MethodGet, "/api/v1/balance", u.token, nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	e.do(t, http.MethodGet, "/api/v1/auth/profile", kept, nil).want(t, http.StatusOK)
}
