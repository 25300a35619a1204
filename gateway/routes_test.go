package gateway

import (
	"testing"
)

func TestRouterMatch(t *testing.T) {
	rt, err := compileRoutes(RouteTable{
		{Method: "GET", Pattern: "/", Access: Public},
		{Method: "GET", Pattern: "/api/v1/orders", Access: User},
		{Method: "GET", Pattern: "/api/v1/orders/{order_id}", Access: User},
		{Method: "GET", Pattern: "/api/v1/orders/stats", Access: Admin},
		{Method: "DELETE", Pattern: "/api/v1/orders/{order_id}", Access: User},
		{Method: "", Pattern: "/api/v1/admin/{rest...}", Access: Admin},
		{Method: "GET", Pattern: "/api/v1/admin/public", Access: Public},
		{Method: "", Pattern: "/api/v1/things/{id}", Access: Public},
		{Method: "POST", Pattern: "/api/v1/things/{id}", Access: User},
		{Method: "GET", Pattern: "/api/v1/{x}/b", Access: Public},
		{Method: "GET", Pattern: "/api/v1/a/{y}", Access: User},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         string // "method pattern", "" for no match
	}{
		{"GET", "/", "GET /"},
		{"GET", "/api/v1/orders", "GET /api/v1/orders"},
		{"HEAD", "/api/v1/orders", "GET /api/v1/orders"},
		{"POST", "/api/v1/orders", ""},
		{"GET", "/api/v1/orders/abc", "GET /api/v1/orders/{order_id}"},
		{"GET", "/api/v1/orders/stats", "GET /api/v1/orders/stats"},
		{"DELETE", "/api/v1/orders/stats", "DELETE /api/v1/orders/{order_id}"},
		{"GET", "/api/v1/orders/abc/def", ""},
		{"GET", "/api/v1/order", ""},
		{"GET", "/api/v1/ordersx", ""},
		{"PUT", "/api/v1/admin/assets/BTC/price", " /api/v1/admin/{rest...}"},
		{"GET", "/api/v1/admin/x", " /api/v1/admin/{rest...}"},
		{"GET", "/api/v1/admin", ""},
		{"GET", "/api/v1/admin/public", "GET /api/v1/admin/public"},
		{"PUT", "/api/v1/admin/public", " /api/v1/admin/{rest...}"},
		{"POST", "/api/v1/things/1", "POST /api/v1/things/{id}"},
		{"GET", "/api/v1/things/1", " /api/v1/things/{id}"},
		{"GET", "/api/v1/a/b", "GET /api/v1/a/{y}"}, // literal at the earlier segment wins
		{"GET", "/api/v1/z/b", "GET /api/v1/{x}/b"},
		{"GET", "/api", ""},
		{"GET", "", "GET /"},
	}
	for _, tt := range tests {
		got := ""
		if r := rt.match(tt.method, tt.path); r != nil {
			got = r.Method + " " + r.Pattern
		}
		if got != tt.want {
			t.Errorf("match(%s %q) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
	if got := testing.AllocsPerRun(100, func() { rt.match("DELETE", "/api/v1/orders/abc") }); got != 0 {
		t.Errorf("match allocates %v times", got)
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a", "/a"},
		{"/a/", "/a"},
		{"/a//b///", "/a/b"},
		{"/a/./b/../c", "/a/c"},
		{"/../a", "/a"},
		{"a/b", "/a/b"},
	}
	for _, tt := range tests {
		if got := normalizePath(tt.in); got != tt.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := testing.AllocsPerRun(100, func() { normalizePath("/api/v1/orders/abc") }); got != 0 {
		t.Errorf("normalizePath of a clean path allocates %v times", got)
	}
}

func FuzzNormalizeAndMatch(f *testing.F) {
	rt, err := compileRoutes(testRoutes, 0)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/api/v1/orders/x", "//", "/api/v1/admin/../orders", "/a/./b/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := normalizePath(p)
		if n == "" || n[0] != '/' || (len(n) > 1 && n[len(n)-1] == '/') || normalizePath(n) != n {
			t.Fatalf("normalizePath(%q) = %q: not normal or not idempotent", p, n)
		}
		if r := rt.match("GET", n); r != nil && r.Pattern == "/api/v1/orders/{order_id}" {
			if len(n) <= len("/api/v1/orders/") {
				t.Fatalf("%q matched %s", n, r.Pattern)
			}
		}
	})
}

func FuzzSaneRequestID(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", "x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !saneRequestID(s) {
			return
		}
		if len(s) < 1 || len(s) > 128 {
			t.Fatalf("accepted length %d", len(s))
		}
		for _, c := range []byte(s) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
