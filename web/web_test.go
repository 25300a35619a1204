package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbeddedMatchesBuild builds the app afresh (scripts/web-build into a
// temporary directory) and checks that every file equals the embedded one
// and that no embedded file is missing from the build. Without npm it
// skips, unless WEB_BUILD_REQUIRED=1 (scripts/test sets it).
func TestEmbeddedMatchesBuild(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("WEB_BUILD_REQUIRED") == "1" {
			t.Fatal("npm is not installed, and WEB_BUILD_REQUIRED=1 needs the fresh build")
		}
		t.Skip("npm is not installed: the embedded web app cannot be compared with a fresh build (scripts/test runs this)")
	}
	out := t.TempDir()
	cmd := exec.Command("../scripts/web-build", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/web-build: %v\n%s", err, b)
	}
	built := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(out, p)
		built[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(dist, "dist")
	embedded := map[string][]byte{}
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded[p], _ = fs.ReadFile(sub, p)
		}
		return err
	})
	for name, b := range built {
		e, ok := embedded[name]
		switch {
		case !ok:
			t.Errorf("%s is built but not embedded: run scripts/web-build and commit web/dist", name)
		case !bytes.Equal(e, b):
			t.Errorf("embedded %s (%d bytes) differs from a fresh build (%d bytes): run scripts/web-build and commit web/dist", name, len(e), len(b))
		}
	}
	for name := range embedded {
		if _, ok := built[name]; !ok {
			t.Errorf("%s is embedded but no longer built: run scripts/web-build and commit web/dist", name)
		}
	}
	if len(built) < 5 {
		t.Errorf("the build made %d files, want index.html, favicon.svg, app.js, app.css and licenses.txt", len(built))
	}
}

func serve(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-From", "api")
		w.WriteHeader(http.StatusTeapot)
	})
	m := h.Mount(api)

	res := serve(t, m, "GET", "/", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !bytes.Contains(body, []byte(`<script type="module" src="/app/app.js"></script>`)) {
		t.Errorf("index.html does not load /app/app.js:\n%s", body)
	}
	if bytes.Contains(body, []byte("<script>")) || bytes.Contains(body, []byte("style=")) {
		t.Errorf("index.html has an inline script or style:\n%s", body)
	}
	for k, want := range map[string]string{"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, d := range []string{"script-src 'self';", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(CSP, d) || strings.Contains(CSP, "unsafe") || strings.Contains(CSP, "http") {
			t.Errorf("CSP %q: want %q and no unsafe source or other origin", CSP, d)
		}
	}

	// The bundle, compressed when asked, and revalidated by its ETag.
	res = serve(t, m, "GET", "/app/app.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("GET /app/app.js: %d encoding %q type %q", res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("Content-Type"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(zr)
	want, _ := fs.ReadFile(dist, "dist/app.js")
	if !bytes.Equal(js, want) {
		t.Errorf("the gzipped app.js (%d bytes unpacked) is not dist/app.js (%d bytes)", len(js), len(want))
	}
	etag := res.Header.Get("ETag")
	if res = serve(t, m, "GET", "/app/app.js", map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", etag, res.StatusCode)
	}
	if res = serve(t, m, "GET", "/app/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	if res = serve(t, m, "GET", "/app/licenses.txt", nil); res.StatusCode != 200 {
		t.Errorf("GET /app/licenses.txt: %d", res.StatusCode)
	} else if b, _ := io.ReadAll(res.Body); !bytes.Contains(b, []byte("lightweight-charts")) || !bytes.Contains(b, []byte("preact")) {
		t.Errorf("licenses.txt lacks a bundled package:\n%.300s", b)
	}

	// Served directly, an unknown file is 404 and another method 405, with
	// the headers.
	if res = serve(t, h, "GET", "/app/nope.js", nil); res.StatusCode != 404 || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET /app/nope.js: %d, X-Frame-Options %q", res.StatusCode, res.Header.Get("X-Frame-Options"))
	}
	if res = serve(t, h, "POST", "/", nil); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	if res = serve(t, m, "HEAD", "/", nil); res.StatusCode != 200 {
		t.Errorf("HEAD /: %d", res.StatusCode)
	} else if b, _ := io.ReadAll(res.Body); len(b) != 0 {
		t.Errorf("HEAD / has a body of %d bytes", len(b))
	}
	// Everything else is the API's.
	// Everything else, an unknown file and another method included, is
	// the API's (its JSON 404 and 405).
	for _, r := range [][2]string{{"GET", "/api/v1/orders"}, {"GET", "/index.html"}, {"GET", "/apps"}, {"GET", "/docs"},
		{"GET", "/app/nope.js"}, {"GET", "/app/"}, {"POST", "/"}, {"DELETE", "/app/app.js"}} {
		if res = serve(t, m, r[0], r[1], nil); res.StatusCode != http.StatusTeapot || res.Header.Get("X-From") != "api" {
			t.Errorf("%s %s: %d, not the API's", r[0], r[1], res.StatusCode)
		}
	}
}

// TestFirstLoadSize keeps the first load (page, script, style sheet and
// icon, as served gzipped) under the 200 KB goal of docs/web.md.
func TestFirstLoadSize(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range []string{"/", "/app/app.js", "/app/app.css", "/app/favicon.svg"} {
		res := serve(t, h, "GET", p, map[string]string{"Accept-Encoding": "gzip"})
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p, res.StatusCode)
		}
		t.Logf("%s: %d bytes", p, len(b))
		total += len(b)
	}
	t.Logf("first load: %d bytes", total)
	if total >= 200_000 {
		t.Errorf("first load is %d bytes compressed, over the 200 KB goal", total)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for v, want := range map[string]bool{"": false, "gzip": true, "GZIP": true, "br, gzip;q=0.5": true, "gzip;q=0": false,
		"gzip; q=0.000": false, "identity": false, "x-gzip": false, "deflate, gzip": true} {
		if got := acceptsGzip(v); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", v, got, want)
		}
	}
}
