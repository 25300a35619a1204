package inventory

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// deactivations records the deactivation hook's calls.
type deactivations struct {
	mu    sync.Mutex
	ids   []string
	fail  error
	ctxOK bool
}

func (d *deactivations) hook(ctx context.Context, id string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids = append(d.ids, id)
	d.ctxOK = ctx.Err() == nil && ctx.Done() == nil // detached from the request's cancellation
	return 1, d.fail
}

func (d *deactivations) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.ids
	d.ids = nil
	return ids
}

// TestDeactivateHook: every stored deactivation (POST deactivate, PUT with
// is_active false) calls the hook once, before the answer, with a context
// that the request's end does not cancel; activations and other updates do
// not; a failing hook does not fail the request (the deactivation is stored).
func TestDeactivateHook(t *testing.T) {
	e := newEnv(t, true)
	var rec deactivations
	e.svc.OnDeactivate(rec.hook)
	steps := []struct {
		method, path, body string
		status             int
		want               []string
	}{
		{"POST", "/api/v1/admin/assets/eth/deactivate", "", http.StatusOK, []string{"ETH"}},
		{"POST", "/api/v1/admin/assets/ETH/deactivate", "", http.StatusOK, []string{"ETH"}}, // again: the pass runs again
		{"POST", "/api/v1/admin/assets/ETH/activate", "", http.StatusOK, nil},
		{"PUT", "/api/v1/admin/assets/ETH", `{"name":"Ether"}`, http.StatusOK, nil},
		{"PUT", "/api/v1/admin/assets/ETH", `{"is_active":true}`, http.StatusOK, nil},
		{"PUT", "/api/v1/admin/assets/ETH", `{"is_active":false}`, http.StatusOK, []string{"ETH"}},
		{"POST", "/api/v1/admin/assets/NOPE/deactivate", "", http.StatusNotFound, nil}, // nothing stored
	}
	for _, s := range steps {
		if status, body := e.do(admin, s.method, s.path, s.body); status != s.status {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, status, body, s.status)
		}
		if got := rec.take(); !slices.Equal(got, s.want) {
			t.Fatalf("%s %s %s: hook calls %v, want %v", s.method, s.path, s.body, got, s.want)
		}
	}
	if !rec.ctxOK {
		t.Fatal("the hook's context can be cancelled")
	}
	rec.fail = errors.New("store down")
	if status, body := e.do(admin, "POST", "/api/v1/admin/assets/BTC/deactivate", ""); status != http.StatusOK {
		t.Fatalf("failing hook: %d %s", status, body)
	}
	if got := rec.take(); !slices.Equal(got, []string{"BTC"}) {
		t.Fatalf("hook calls %v", got)
	}
	a, err := e.d.Assets.Get(context.Background(), "BTC")
	if err != nil || a.IsActive {
		t.Fatalf("BTC %v %v", a, err)
	}
}
