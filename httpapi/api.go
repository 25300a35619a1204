// Package httpapi is the HTTP toolkit shared by the services: operations are
// declared once (method, path, types, auth, documented errors) on an API,
// which routes them with a plain net/http ServeMux and publishes the same
// declarations as an OpenAPI 3.1 document (/openapi.json) with an offline
// documentation page (/docs).
//
// Handlers are typed (Handle): func(r, in *In) (Out, error). Handle decodes
// each request into In (path parameters, query with DecodeQuery, JSON body
// with DecodeJSON), derives the operation's documented types from In and
// Out, and answers the result with WriteJSON (or the result's own
// WriteResponse) and the error with WriteError, which maps apperr kinds to
// the error shapes of docs/api.md:
//
//	{"detail": "<message>", "code": "<kind>"}
//	422 {"detail": [{"loc": [...], "msg": "...", "type": "..."}], "code": "invalid"}
//
// Schemas come from the Go types by reflection: struct fields by their json
// tags (omitempty/omitzero: not required; pointers: nullable, as
// type: [T, "null"]), named structs and Enumer types as components with
// $ref, time.Time as date-time strings, and types implementing JSONSchemaer
// verbatim. Struct fields may carry `doc:"..."` (description) and
// `format:"..."` tags.
//
// Routing rules (docs/api.md): a path with or without a trailing slash reaches the
// same handler and no route answers with a redirect (unclean paths such as
// "/a//b" are cleaned in place, not redirected); unknown paths answer JSON
// 404 and known paths with another method JSON 405 with an Allow header.
package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Auth is the authentication an operation requires.
type Auth int

const (
	// AuthNone is a public operation.
	AuthNone Auth = iota
	// AuthUser needs a valid bearer token of any role.
	AuthUser
	// AuthAdmin needs a valid bearer token with the admin role.
	AuthAdmin
)

// String returns "none", "user" or "admin".
func (a Auth) String() string {
	switch a {
	case AuthUser:
		return "user"
	case AuthAdmin:
		return "admin"
	default:
		return "none"
	}
}

// Header documents a request header an operation reads.
type Header struct {
	Name        string
	Description string
	Required    bool
}

// Op declares one operation. Types (Request, Query, PathParams, Response) may be
// given as a value of the type (e.g. OrderRequest{} or (*OrderRequest)(nil))
// or as a reflect.Type; nil means none.
type Op struct {
	Method      string   // "GET", "POST", ...
	Path        string   // ServeMux path with wildcards, e.g. "/api/v1/orders/{order_id}"; no trailing slash
	OperationID string   // unique, e.g. "createOrder"
	Summary     string   // one line
	Description string   // optional, longer (CommonMark)
	Tags        []string // groups in the docs, e.g. "orders"
	Auth        Auth

	Request    any      // JSON body type (Handle: derived from In's Body field)
	Query      any      // struct type with `query:"name"` fields (see DecodeQuery; Handle: derived from In)
	PathParams any      // struct type with `path:"name"` fields (doc, pattern tags) documenting path wildcards (Handle: derived from In)
	Headers    []Header // documented request headers (e.g. Idempotency-Key)
	Response   any      // success body type; nil for no body (Handle: derived from Out unless Out is a Responder)
	Status     int      // success status; 0 means 200
	Errors     []int    // documented error statuses besides those implied (401/403 by Auth, 422 by inputs, 413 by Request)
}

// Options configure an API.
type Options struct {
	Title       string // OpenAPI info.title; default "API"
	Version     string // OpenAPI info.version; default "0.0.0"
	Description string
	Servers     []string // OpenAPI server URLs, e.g. "/" (optional)

	// Middleware, when set, wraps every operation's handler; it sees the
	// operation (for auth by op.Auth, metrics by op.OperationID, ...).
	// It does not wrap /openapi.json, /docs or the 404/405 answers.
	Middleware func(op Op, next http.Handler) http.Handler

	// NoDocs disables the /openapi.json and /docs routes.
	NoDocs bool
}

// API routes declared operations and documents them. Build it with New,
// register operations with Handle (before serving; Handle is safe for
// concurrent use but a route added while serving is racy for clients), and
// serve it as an http.Handler.
type API struct {
	opts    Options
	mux     *http.ServeMux
	mu      sync.Mutex
	ops     []Op
	methods []string // registered methods, for 405 detection
	spec    []byte   // cached OpenAPI document; nil when stale
}

// SpecPath and DocsPath are where an API serves its OpenAPI document and
// documentation page.
const (
	SpecPath = "/openapi.json"
	DocsPath = "/docs"
)

// New returns an empty API.
func New(opts Options) *API {
	if opts.Title == "" {
		opts.Title = "API"
	}
	if opts.Version == "" {
		opts.Version = "0.0.0"
	}
	a := &API{opts: opts, mux: http.NewServeMux()}
	a.mux.HandleFunc("/", a.fallback)
	if !opts.NoDocs {
		a.mux.HandleFunc("GET "+SpecPath, a.serveSpec)
		a.mux.HandleFunc("GET "+DocsPath, serveDocs)
		a.methods = append(a.methods, http.MethodGet)
	}
	return a
}

// Handle registers op with its handler, which decodes and answers by
// itself (the package function Handle registers a typed handler and builds
// this one). It panics on an invalid declaration
// (missing method, path, operation id or handler, a path with a trailing slash, a
// duplicate operation id, a conflicting route, an undecodable Query type):
// these are programming errors found at start-up.
func (a *API) Handle(op Op, h http.HandlerFunc) {
	if op.Method == "" || op.OperationID == "" || !strings.HasPrefix(op.Path, "/") {
		panic(fmt.Sprintf("httpapi: operation %q needs a method, an id and a path starting with /", op.OperationID))
	}
	if h == nil {
		panic("httpapi: operation " + op.OperationID + " has a nil handler")
	}
	if op.Path != "/" && strings.HasSuffix(op.Path, "/") {
		panic("httpapi: operation " + op.OperationID + ": path " + op.Path + " must not end with /")
	}
	if op.Status == 0 {
		op.Status = http.StatusOK
	}
	op.Method = strings.ToUpper(op.Method)
	if t := typeOf(op.Query); t != nil {
		queryFields(derefType(t)) // panics early on an unsupported query struct
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, o := range a.ops {
		if o.OperationID == op.OperationID {
			panic("httpapi: duplicate operation id " + op.OperationID)
		}
	}
	var handler http.Handler = h
	if a.opts.Middleware != nil {
		handler = a.opts.Middleware(op, handler)
	}
	pattern := op.Method + " " + op.Path
	if op.Path == "/" {
		pattern += "{$}"
	}
	a.mux.Handle(pattern, handler) // panics on a conflicting pattern
	a.ops = append(a.ops, op)
	if !slices.Contains(a.methods, op.Method) {
		a.methods = append(a.methods, op.Method)
	}
	a.spec = nil
}

// Operations returns the registered operations, in registration order
// (e.g. for a gateway that proxies them).
func (a *API) Operations() []Op {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ops)
}

// ServeHTTP routes r to its operation. Paths are cleaned in place (trailing
// slash, "//", "." and ".." segments) so that the ServeMux never redirects.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if esc := r.URL.EscapedPath(); needsClean(esc) {
		clean := cleanPath(esc)
		u := *r.URL
		if p, err := url.PathUnescape(clean); err == nil {
			u.Path, u.RawPath = p, clean
		} else {
			u.Path, u.RawPath = path.Clean("/"+r.URL.Path), ""
		}
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	a.mux.ServeHTTP(w, r)
}

// needsClean reports whether p is not already in the form cleanPath returns.
func needsClean(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		return true
	}
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// cleanPath is path.Clean of a rooted p: no trailing slash (except "/").
func cleanPath(p string) string {
	return path.Clean("/" + p)
}

// fallback answers requests no operation matched: 405 when the path is
// served with other methods, else 404.
func (a *API) fallback(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	methods := slices.Clone(a.methods)
	a.mu.Unlock()
	var allowed []string
	for _, m := range methods {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
			if m == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
	}
	if len(allowed) == 0 {
		writeNotFound(w)
		return
	}
	slices.Sort(allowed)
	w.Header().Set("Allow", strings.Join(slices.Compact(allowed), ", "))
	writeRaw(w, http.StatusMethodNotAllowed, bodyMethodNotAllowed)
}

func (a *API) serveSpec(w http.ResponseWriter, _ *http.Request) {
	body := a.OpenAPI()
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	writeRaw(w, http.StatusOK, body)
}

// OpenAPI returns the OpenAPI 3.1 document of the registered operations as
// JSON. The bytes are built once and cached until the next Handle; callers
// must not modify them.
func (a *API) OpenAPI() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spec == nil {
		a.spec = buildSpec(a.opts, a.ops)
	}
	return a.spec
}

// typeOf returns the type a declaration field denotes (a value or a reflect.Type).
func typeOf(v any) reflect.Type {
	switch x := v.(type) {
	case nil:
		return nil
	case reflect.Type:
		return x
	default:
		return reflect.TypeOf(v)
	}
}
