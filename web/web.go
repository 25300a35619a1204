// Package web serves the web app for traders and admins: a single-page
// application (Preact, htm and lightweight-charts, bundled by esbuild from
// the npm packages pinned in package-lock.json) whose built files are
// embedded in the binary from dist/. scripts/web-build rebuilds dist/; the
// package's test checks that dist/ is what a fresh build makes.
//
// The app is served at "/" (index.html) and under "/app/" (its script,
// style sheet and licence texts). Every answer carries a strict
// Content-Security-Policy (only the server's own origin, no inline script
// or style sheet, no framing) and X-Frame-Options DENY. The app talks to the
// API under /api/v1 on the same origin with a bearer token that it keeps in
// memory only.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// Paths of the app.
const (
	// IndexPath serves the app's page.
	IndexPath = "/"
	// AssetPrefix is where the app's files are served from.
	AssetPrefix = "/app/"
)

// CSP is the Content-Security-Policy of every answer of the app: its own
// origin only, no inline script or style, no plugins, no framing, forms only
// to itself.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'; object-src 'none'"

// file is one served file, with its gzip form when that is smaller.
type file struct {
	body, gz    []byte
	contentType string
	etag        string
}

// Handler serves the app. Build it with New.
type Handler struct {
	files map[string]*file // by URL path
}

// New returns the handler of the embedded app. It fails when dist/ lacks
// index.html (a build that did not run).
func New() (*Handler, error) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return newHandler(sub)
}

func newHandler(fsys fs.FS) (*Handler, error) {
	h := &Handler{files: map[string]*file{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f := &file{body: body, contentType: mime.TypeByExtension(path.Ext(p))}
		switch path.Ext(p) { // the same types on every machine, whatever its mime tables say
		case ".html":
			f.contentType = "text/html; charset=utf-8"
		case ".js":
			f.contentType = "text/javascript; charset=utf-8"
		case ".css":
			f.contentType = "text/css; charset=utf-8"
		case ".txt":
			f.contentType = "text/plain; charset=utf-8"
		case ".svg":
			f.contentType = "image/svg+xml"
		}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			f.gz = buf.Bytes()
		}
		if p == "index.html" {
			h.files[IndexPath] = f
		} else {
			h.files[AssetPrefix+p] = f
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read the app's files: %w", err)
	}
	if h.files[IndexPath] == nil {
		return nil, fmt.Errorf("web: the app has no index.html (run scripts/web-build)")
	}
	return h, nil
}

// Serves reports whether the handler has a file at the request's path:
// "/" and the app's files.
func (h *Handler) Serves(p string) bool {
	return h.files[p] != nil
}

// ServeHTTP answers GET and HEAD of the app's paths; an unknown file is a
// plain 404 and another method 405, both with the app's security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f := h.files[r.URL.Path]
	if f == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", f.contentType)
	hd.Set("Cache-Control", "no-cache") // revalidated by ETag: a new binary's files are fetched at once
	hd.Set("ETag", f.etag)
	hd.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gz
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether an Accept-Encoding value lists gzip with a
// non-zero quality.
func acceptsGzip(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// Mount returns a handler that answers a GET or HEAD of one of the app's
// files with h and every other request with api, so an unknown path or
// method gets the API's JSON 404 or 405.
func (h *Handler) Mount(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && h.Serves(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
