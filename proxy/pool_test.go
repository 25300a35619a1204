package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// replica is an upstream that answers its name and the body it read.
func replica(t *testing.T, name string, status int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(name + ":" + string(b)))
	}))
	t.Cleanup(s.Close)
	return s
}

// deadURL returns the URL of a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

func post(p http.Handler, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/orders", strings.NewReader(body)))
	return rec
}

func TestPoolTakesTurns(t *testing.T) {
	a, b := replica(t, "a", 201), replica(t, "b", 201)
	pool := NewPool("order", newProxy(t, Options{URL: a.URL}), newProxy(t, Options{URL: b.URL}))
	got := map[string]int{}
	for i := range 10 {
		rec := post(pool, "x"+string(rune('0'+i)))
		if rec.Code != 201 || !strings.HasSuffix(rec.Body.String(), ":x"+string(rune('0'+i))) {
			t.Fatalf("request %d: %d %q", i, rec.Code, rec.Body)
		}
		got[rec.Body.String()[:1]]++
	}
	if got["a"] != 5 || got["b"] != 5 {
		t.Fatalf("requests per replica %v, want 5 each", got)
	}
}

func TestPoolPassesOverRefusedReplica(t *testing.T) {
	live := replica(t, "live", 201)
	dead := newProxy(t, Options{URL: deadURL(t), Breaker: BreakerConfig{FailureThreshold: 3}})
	pool := NewPool("order", dead, newProxy(t, Options{URL: live.URL}))
	// Through a real server, whose request bodies fail to read once closed.
	front := httptest.NewServer(pool)
	defer front.Close()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat("b", i+1)
			resp, err := http.Post(front.URL+"/api/v1/orders", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 || string(got) != "live:"+body {
				t.Errorf("request %d: %d %q, want 201 %q", i, resp.StatusCode, got, "live:"+body)
			}
		}()
	}
	wg.Wait()
	if s := dead.Breaker().State(); s != Open {
		t.Errorf("the dead replica's breaker is %v, want open", s)
	}
}

func TestPoolDoesNotResendAnsweredRequests(t *testing.T) {
	failing, ok := replica(t, "failing", 500), replica(t, "ok", 201)
	pool := NewPool("order", newProxy(t, Options{URL: failing.URL}), newProxy(t, Options{URL: ok.URL}))
	got := map[int]int{}
	for range 4 {
		got[post(pool, "once").Code]++
	}
	// Half the requests reach the failing replica, which answered: its 500
	// is the client's, and the request is not sent again.
	if got[500] != 2 || got[201] != 2 {
		t.Fatalf("statuses %v, want two 500 and two 201", got)
	}
}

func TestPoolAllReplicasDown(t *testing.T) {
	pool := NewPool("order", newProxy(t, Options{URL: deadURL(t)}), newProxy(t, Options{URL: deadURL(t)}))
	rec := post(pool, "x")
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d %q, want 502", rec.Code, rec.Body)
	}
	if code, msg := gatewayError(t, rec.Body.Bytes()); code != "BAD_GATEWAY" || msg != "the order service could not be reached" {
		t.Fatalf("%s %q", code, msg)
	}
}
