package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

type orderPath struct {
	OrderID string `path:"order_id" doc:"the order id" pattern:"^[A-Za-z0-9_-]{10,50}$"`
}

type status string

func (status) Enum() []string { return []string{"open", "filled", "cancelled"} }

type listQuery struct {
	Limit      int        `query:"limit" default:"50" minimum:"1" maximum:"100" doc:"page size"`
	Cursor     string     `query:"cursor" maxLength:"16"`
	Status     status     `query:"status"`
	Type       string     `query:"order_type" enum:"market,limit"`
	ActiveOnly bool       `query:"active_only" default:"true"`
	From       *time.Time `query:"from"`
	Offset     *int64     `query:"offset" minimum:"0"`
	Currency   string     `query:"currency" required:"true"`
	Skipped    string
	Amount     *intTextQ `query:"amount"`
}

// intTextQ is a query type decoded with UnmarshalText.
type intTextQ struct{ digits string }

func (q *intTextQ) UnmarshalText(b []byte) error {
	if len(b) == 0 || strings.Trim(string(b), "0123456789") != "" {
		return errors.New("amount must be digits")
	}
	q.digits = string(b)
	return nil
}

type tree struct {
	Name     string `json:"name"`
	Children []tree `json:"children"`
}

type pageOf[T any] struct {
	Data    []T     `json:"data"`
	HasMore bool    `json:"has_more"`
	Next    *string `json:"next_cursor"`
}

type item struct {
	ID     string    `json:"order_id"`
	Status status    `json:"status"`
	Prev   *status   `json:"previous_status"`
	At     time.Time `json:"created_at"`
	Qty    intText   `json:"quantity"`
	Tree   *tree     `json:"tree,omitempty"`
	Raw    json.RawMessage
	Any    any               `json:"any"`
	Tags   map[string]string `json:"tags,omitempty"`
	Bytes  []byte            `json:"bytes,omitempty"`
	Wait   time.Duration     `json:"wait,omitempty"`
	Anon   struct {
		A int8 `json:"a"`
	} `json:"anon"`
	F32 float32  `json:"f32,omitempty"`
	U   uint     `json:"u,omitempty"`
	TM  textOnly `json:"tm,omitempty"`
	Doc *leg     `json:"doc_leg,omitempty" doc:"a documented ref" format:"custom"`
	Str int      `json:"str,string"`
}

// textOnly encodes as text.
type textOnly struct{}

func (textOnly) MarshalText() ([]byte, error) { return []byte("t"), nil }

type created struct {
	Data item `json:"data"`
}

// newTestAPI builds an API with sample operations; handlers echo what they saw.
func newTestAPI(t *testing.T) *httpapi.API {
	t.Helper()
	api := httpapi.New(httpapi.Options{
		Title: "Test API", Version: "1.2.3", Description: "for tests", Servers: []string{"/"},
		Middleware: func(op httpapi.Op, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Op", op.OperationID)
				if op.Auth != httpapi.AuthNone && r.Header.Get("Authorization") != "Bearer good" {
					httpapi.WriteError(w, r, apperr.New(apperr.Unauthorized, "Not authenticated"))
					return
				}
				next.ServeHTTP(w, r)
			})
		},
	})
	echo := func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{
			"pattern": r.Pattern, "order_id": r.PathValue("order_id"), "path": r.URL.Path, "query": r.URL.RawQuery})
	}
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/orders", OperationID: "listOrders", Summary: "List orders",
		Tags: []string{"orders"}, Auth: httpapi.AuthUser, Query: listQuery{}, Response: pageOf[item]{}}, echo)
	api.Handle(httpapi.Op{Method: "post", Path: "/api/v1/orders", OperationID: "createOrder", Summary: "Place an order",
		Tags: []string{"orders"}, Auth: httpapi.AuthUser, Request: (*orderReq)(nil), Response: reflect.TypeFor[created](),
		Status: http.StatusCreated, Errors: []int{409},
		Headers: []httpapi.Header{{Name: "Idempotency-Key", Description: "retry key", Required: false}}},
		func(w http.ResponseWriter, r *http.Request) {
			var req orderReq
			if err := httpapi.DecodeJSON(r, &req); err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"asset_id": req.AssetID})
		})
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/orders/{order_id}", OperationID: "getOrder",
		Tags: []string{"orders"}, Auth: httpapi.AuthUser, PathParams: orderPath{}, Response: created{}, Errors: []int{404}}, echo)
	api.Handle(httpapi.Op{Method: "DELETE", Path: "/api/v1/orders/{order_id}", OperationID: "cancelOrder",
		Tags: []string{"orders"}, Auth: httpapi.AuthUser, Status: http.StatusNoContent}, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusNoContent, nil)
	})
	api.Handle(httpapi.Op{Method: "PUT", Path: "/api/v1/admin/assets/{asset_id}", OperationID: "updateAsset",
		Description: "Updates an asset.", Auth: httpapi.AuthAdmin, Request: map[string]any{}, Response: tree{}}, echo)
	api.Handle(httpapi.Op{Method: "GET", Path: "/health", OperationID: "health", Response: map[string]string{}}, echo)
	api.Handle(httpapi.Op{Method: "GET", Path: "/files/{rest...}", OperationID: "files"}, echo)
	return api
}

func newTestServer(t *testing.T) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(newTestAPI(t))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return srv, client
}

func do(t *testing.T, c *http.Client, method, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, strings.TrimSuffix(string(b), "\n")
}

func TestRouting(t *testing.T) {
	srv, c := newTestServer(t)
	auth := []string{"Authorization", "Bearer good"}
	tests := []struct {
		method, path, body string
		hdr                []string
		status             int
		want               string
		allow              string
		op                 string
	}{
		{"GET", "/api/v1/orders", "", auth, 200, `{"order_id":"","path":"/api/v1/orders","pattern":"GET /api/v1/orders","query":""}`, "", "listOrders"},
		{"GET", "/api/v1/orders/", "", auth, 200, `{"order_id":"","path":"/api/v1/orders","pattern":"GET /api/v1/orders","query":""}`, "", "listOrders"},
		{"GET", "/api/v1/orders/?limit=5", "", auth, 200, `{"order_id":"","path":"/api/v1/orders","pattern":"GET /api/v1/orders","query":"limit=5"}`, "", "listOrders"},
		{"GET", "/api/v1/orders/abc", "", auth, 200, `{"order_id":"abc","path":"/api/v1/orders/abc","pattern":"GET /api/v1/orders/{order_id}","query":""}`, "", "getOrder"},
		{"GET", "/api/v1/orders/abc/", "", auth, 200, `{"order_id":"abc","path":"/api/v1/orders/abc","pattern":"GET /api/v1/orders/{order_id}","query":""}`, "", "getOrder"},
		{"GET", "/api//v1/orders/abc//", "", auth, 200, `{"order_id":"abc","path":"/api/v1/orders/abc","pattern":"GET /api/v1/orders/{order_id}","query":""}`, "", "getOrder"},
		{"GET", "/api/v1/x/../orders/./abc", "", auth, 200, `{"order_id":"abc","path":"/api/v1/orders/abc","pattern":"GET /api/v1/orders/{order_id}","query":""}`, "", "getOrder"},
		{"GET", "/api/v1/orders/a%2Fb/", "", auth, 200, `{"order_id":"a/b","path":"/api/v1/orders/a/b","pattern":"GET /api/v1/orders/{order_id}","query":""}`, "", "getOrder"},
		{"GET", "/files/a/b/", "", nil, 200, `{"order_id":"","path":"/files/a/b","pattern":"GET /files/{rest...}","query":""}`, "", "files"},
		{"POST", "/api/v1/orders/", `{"asset_id":"ETH"}`, auth, 201, `{"asset_id":"ETH"}`, "", "createOrder"},
		{"POST", "/api/v1/orders", `{"asset_id":1}`, auth, 422, `{"detail":[{"loc":["body","asset_id"],"msg":"Input should be a valid string","type":"string_type"}],"code":"invalid"}`, "", "createOrder"},
		{"POST", "/api/v1/orders", `{}`, nil, 401, `{"detail":"Not authenticated","code":"unauthorized"}`, "", "createOrder"},
		{"DELETE", "/api/v1/orders/abc/", "", auth, 204, ``, "", "cancelOrder"},
		{"GET", "/health/", "", nil, 200, `{"order_id":"","path":"/health","pattern":"GET /health","query":""}`, "", "health"},
		{"HEAD", "/health", "", nil, 200, ``, "", "health"},
		{"GET", "/", "", nil, 404, `{"detail":"Not Found","code":"not_found"}`, "", ""},
		{"GET", "/api/v1/nope", "", nil, 404, `{"detail":"Not Found","code":"not_found"}`, "", ""},
		{"POST", "/nope/", "{}", nil, 404, `{"detail":"Not Found","code":"not_found"}`, "", ""},
		{"PATCH", "/api/v1/orders", "", auth, 405, `{"detail":"Method Not Allowed","code":"method_not_allowed"}`, "GET, HEAD, POST", ""},
		{"PUT", "/api/v1/orders/abc/", "", auth, 405, `{"detail":"Method Not Allowed","code":"method_not_allowed"}`, "DELETE, GET, HEAD", ""},
		{"POST", "/health", "", nil, 405, `{"detail":"Method Not Allowed","code":"method_not_allowed"}`, "GET, HEAD", ""},
		{"OPTIONS", "/api/v1/admin/assets/BTC", "", nil, 405, `{"detail":"Method Not Allowed","code":"method_not_allowed"}`, "PUT", ""},
		{"DELETE", "/openapi.json", "", nil, 405, `{"detail":"Method Not Allowed","code":"method_not_allowed"}`, "GET, HEAD", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := do(t, c, tt.method, srv.URL+tt.path, tt.body, tt.hdr...)
			if resp.StatusCode != tt.status || body != tt.want {
				t.Fatalf("got %d %s\nwant %d %s", resp.StatusCode, body, tt.status, tt.want)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if got := resp.Header.Get("X-Op"); got != tt.op {
				t.Errorf("X-Op = %q, want %q", got, tt.op)
			}
			if tt.status != 204 && resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestHandlePanics(t *testing.T) {
	h := func(http.ResponseWriter, *http.Request) {}
	tests := []struct {
		name string
		op   httpapi.Op
		want string
	}{
		{"no method", httpapi.Op{Path: "/a", OperationID: "a"}, "needs a method"},
		{"no id", httpapi.Op{Method: "GET", Path: "/a"}, "needs a method"},
		{"relative path", httpapi.Op{Method: "GET", Path: "a", OperationID: "a"}, "needs a method"},
		{"trailing slash", httpapi.Op{Method: "GET", Path: "/a/", OperationID: "a"}, "must not end with /"},
		{"nil handler", httpapi.Op{Method: "GET", Path: "/nil", OperationID: "nil"}, "nil handler"},
		{"duplicate id", httpapi.Op{Method: "GET", Path: "/other", OperationID: "health"}, "duplicate operation id health"},
		{"conflicting route", httpapi.Op{Method: "GET", Path: "/health", OperationID: "health2"}, "conflicts"},
		{"bad query type", httpapi.Op{Method: "GET", Path: "/q", OperationID: "q", Query: struct {
			M map[string]int `query:"m"`
		}{}}, "unsupported type"},
		{"query not a struct", httpapi.Op{Method: "GET", Path: "/q", OperationID: "q", Query: 5}, "is not a struct"},
		{"bad number tag", httpapi.Op{Method: "GET", Path: "/q", OperationID: "q", Query: struct {
			N int `query:"n" minimum:"x"`
		}{}}, "bad number tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t)
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Fatalf("panic %v, want %q", r, tt.want)
				}
			}()
			if tt.name == "nil handler" {
				api.Handle(tt.op, nil)
			}
			api.Handle(tt.op, h)
		})
	}
}

func TestRootOperationAndNoDocs(t *testing.T) {
	api := httpapi.New(httpapi.Options{NoDocs: true})
	api.Handle(httpapi.Op{Method: "GET", Path: "/", OperationID: "root"}, func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, 200, "root")
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	for path, want := range map[string]string{
		"/": `"root"`, "/x": `{"detail":"Not Found","code":"not_found"}`, "/docs": `{"detail":"Not Found","code":"not_found"}`,
		"/openapi.json": `{"detail":"Not Found","code":"not_found"}`,
	} {
		resp, body := do(t, srv.Client(), "GET", srv.URL+path, "")
		if (path == "/") != (resp.StatusCode == 200) || body != want {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc["info"]; !reflect.DeepEqual(got, map[string]any{"title": "API", "version": "0.0.0"}) {
		t.Errorf("info %v", got)
	}
	if _, ok := doc["paths"].(map[string]any)["/"].(map[string]any)["get"]; !ok {
		t.Errorf("paths %v", doc["paths"])
	}
}

func TestOperations(t *testing.T) {
	ops := newTestAPI(t).Operations()
	if len(ops) != 7 || ops[1].OperationID != "createOrder" || ops[1].Method != "POST" || ops[0].Status != 200 {
		t.Fatalf("ops %+v", ops)
	}
}

func TestAuthString(t *testing.T) {
	for a, want := range map[httpapi.Auth]string{httpapi.AuthNone: "none", httpapi.AuthUser: "user", httpapi.AuthAdmin: "admin"} {
		if a.String() != want {
			t.Errorf("%d: %s", a, a.String())
		}
	}
}

func TestDocsPage(t *testing.T) {
	srv, c := newTestServer(t)
	for _, path := range []string{"/docs", "/docs/"} {
		resp, body := do(t, c, "GET", srv.URL+path, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
		lower := strings.ToLower(body)
		for _, bad := range []string{"http://", "https://", "<script src", "<link", "@import", "url("} {
			if strings.Contains(lower, bad) {
				t.Errorf("docs page contains %q: it must work offline", bad)
			}
		}
		for _, want := range []string{`const SPEC_URL = "/openapi.json"`, "<script>", "<style>", "Try it"} {
			if !strings.Contains(body, want) {
				t.Errorf("docs page lacks %q", want)
			}
		}
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad expectation %s: %v", s, err)
	}
	return v
}

// dig follows a path of keys (and array indexes) into a decoded JSON value.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not an object: %v", k, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("missing key %q in %v", k, m)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %d: not an array of that size: %v", k, v)
			}
			v = a[k]
		}
	}
	return v
}

func TestOpenAPIDocument(t *testing.T) {
	srv, c := newTestServer(t)
	resp, body := do(t, c, "GET", srv.URL+"/openapi.json/", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	// Properties keep the struct's declaration order (embedded fields first here).
	if !strings.Contains(body, `"orderReq":{"properties":{"client_order_id":{"description":"caller's id for idempotency","type":"string"},"note":`) {
		t.Errorf("orderReq properties not in declaration order: %s", body)
	}
	schemas := dig(t, doc, "components", "schemas")
	tests := []struct {
		name string
		path []any
		want string
	}{
		{"version", []any{"openapi"}, `"3.1.0"`},
		{"info", []any{"info"}, `{"title":"Test API","version":"1.2.3","description":"for tests"}`},
		{"servers", []any{"servers"}, `[{"url":"/"}]`},
		{"security scheme", []any{"components", "securitySchemes"}, `{"bearerAuth":{"type":"http","scheme":"bearer","bearerFormat":"JWT"}}`},
		{"paths", []any{"paths"}, ""},
		{"list security", []any{"paths", "/api/v1/orders", "get", "security"}, `[{"bearerAuth":[]}]`},
		{"list x-auth", []any{"paths", "/api/v1/orders", "get", "x-auth"}, `"user"`},
		{"list tags", []any{"paths", "/api/v1/orders", "get", "tags"}, `["orders"]`},
		{"list summary", []any{"paths", "/api/v1/orders", "get", "summary"}, `"List orders"`},
		{"list params", []any{"paths", "/api/v1/orders", "get", "parameters"}, `[
			{"name":"limit","in":"query","required":false,"description":"page size","schema":{"type":"integer","minimum":1,"maximum":100,"default":50}},
			{"name":"cursor","in":"query","required":false,"schema":{"type":"string","maxLength":16}},
			{"name":"status","in":"query","required":false,"schema":{"type":"string","enum":["open","filled","cancelled"]}},
			{"name":"order_type","in":"query","required":false,"schema":{"type":"string","enum":["market","limit"]}},
			{"name":"active_only","in":"query","required":false,"schema":{"type":"boolean","default":true}},
			{"name":"from","in":"query","required":false,"schema":{"type":"string","format":"date-time"}},
			{"name":"offset","in":"query","required":false,"schema":{"type":"integer","minimum":0}},
			{"name":"currency","in":"query","required":true,"schema":{"type":"string"}},
			{"name":"amount","in":"query","required":false,"schema":{"type":"string"}}]`},
		{"list responses", []any{"paths", "/api/v1/orders", "get", "responses"}, `{
			"200":{"description":"OK","content":{"application/json":{"schema":{"$ref":"#/components/schemas/pageOf_item"}}}},
			"401":{"description":"Unauthorized","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}},
			"422":{"description":"Unprocessable Entity","content":{"application/json":{"schema":{"$ref":"#/components/schemas/ValidationError"}}}}}`},
		{"create body", []any{"paths", "/api/v1/orders", "post", "requestBody"}, `{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/orderReq"}}}}`},
		{"create params", []any{"paths", "/api/v1/orders", "post", "parameters"}, `[{"name":"Idempotency-Key","in":"header","required":false,"description":"retry key","schema":{"type":"string"}}]`},
		{"create responses", []any{"paths", "/api/v1/orders", "post", "responses"}, `{
			"201":{"description":"Created","content":{"application/json":{"schema":{"$ref":"#/components/schemas/created"}}}},
			"400":{"description":"Bad Request","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}},
			"401":{"description":"Unauthorized","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}},
			"409":{"description":"Conflict","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}},
			"413":{"description":"Request Entity Too Large","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}},
			"422":{"description":"Unprocessable Entity","content":{"application/json":{"schema":{"$ref":"#/components/schemas/ValidationError"}}}}}`},
		{"get params", []any{"paths", "/api/v1/orders/{order_id}", "get", "parameters"},
			`[{"name":"order_id","in":"path","required":true,"description":"the order id","schema":{"type":"string","pattern":"^[A-Za-z0-9_-]{10,50}$"}}]`},
		{"get 404", []any{"paths", "/api/v1/orders/{order_id}", "get", "responses", "404"},
			`{"description":"Not Found","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}}`},
		{"delete 204 has no content", []any{"paths", "/api/v1/orders/{order_id}", "delete", "responses", "204"}, `{"description":"No Content"}`},
		{"delete undocumented path param", []any{"paths", "/api/v1/orders/{order_id}", "delete", "parameters"},
			`[{"name":"order_id","in":"path","required":true,"schema":{"type":"string"}}]`},
		{"admin description", []any{"paths", "/api/v1/admin/assets/{asset_id}", "put", "description"}, `"Updates an asset.\n\nRequires the admin role."`},
		{"admin 403", []any{"paths", "/api/v1/admin/assets/{asset_id}", "put", "responses", "403", "description"}, `"Forbidden"`},
		{"admin map body", []any{"paths", "/api/v1/admin/assets/{asset_id}", "put", "requestBody", "content", "application/json", "schema"}, `{"type":"object","additionalProperties":{}}`},
		{"public has no security", []any{"paths", "/health", "get"}, `{"operationId":"health","responses":{"200":{"description":"OK","content":{"application/json":{"schema":{"type":"object","additionalProperties":{"type":"string"}}}}}}}`},
		{"catch-all wildcard", []any{"paths", "/files/{rest}", "get", "parameters"}, `[{"name":"rest","in":"path","required":true,"schema":{"type":"string"}}]`},
		{"generic page", []any{"components", "schemas", "pageOf_item"}, `{"type":"object","properties":{
			"data":{"type":"array","items":{"$ref":"#/components/schemas/item"}},
			"has_more":{"type":"boolean"},
			"next_cursor":{"type":["string","null"]}},"required":["data","has_more","next_cursor"]}`},
		{"item", []any{"components", "schemas", "item"}, `{"type":"object","properties":{
			"order_id":{"type":"string"},
			"status":{"$ref":"#/components/schemas/status"},
			"previous_status":{"anyOf":[{"$ref":"#/components/schemas/status"},{"type":"null"}]},
			"created_at":{"type":"string","format":"date-time"},
			"quantity":{"type":"string","pattern":"^[0-9]+$"},
			"tree":{"anyOf":[{"$ref":"#/components/schemas/tree"},{"type":"null"}]},
			"Raw":{},
			"any":{},
			"tags":{"type":"object","additionalProperties":{"type":"string"}},
			"bytes":{"type":"string","contentEncoding":"base64"},
			"wait":{"type":"integer","format":"int64","description":"nanoseconds"},
			"anon":{"type":"object","properties":{"a":{"type":"integer","format":"int32"}},"required":["a"]},
			"f32":{"type":"number"},
			"u":{"type":"integer","minimum":0},
			"tm":{"type":"string"},
			"doc_leg":{"allOf":[{"anyOf":[{"$ref":"#/components/schemas/leg"},{"type":"null"}]}],"description":"a documented ref","format":"custom"},
			"str":{"type":"string"}},
			"required":["order_id","status","previous_status","created_at","quantity","Raw","any","anon","str"]}`},
		{"enum component", []any{"components", "schemas", "status"}, `{"type":"string","enum":["open","filled","cancelled"]}`},
		{"recursive", []any{"components", "schemas", "tree"}, `{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/components/schemas/tree"}}},"required":["name","children"]}`},
		{"order request", []any{"components", "schemas", "orderReq"}, `{"type":"object","properties":{
			"client_order_id":{"type":"string","description":"caller's id for idempotency"},
			"note":{"type":["string","null"]},
			"order_type":{"type":"string"},
			"asset_id":{"type":"string"},
			"quantity":{"type":"string","pattern":"^[0-9]+$"},
			"price":{"type":["string","null"],"pattern":"^[0-9]+$"},
			"expires_at":{"type":["string","null"],"format":"date-time"},
			"legs":{"type":"array","items":{"$ref":"#/components/schemas/leg"}},
			"meta":{"type":"object","additionalProperties":{"type":"integer","format":"int64"}},
			"count":{"type":"integer","format":"int64"},
			"flag":{"type":"boolean"},
			"code":{"type":"string"},
			"num":{"type":"string"},
			"ratio":{"type":"number"},
			"pair":{"type":"array","items":{"type":"integer","format":"int64"},"minItems":2,"maxItems":2},
			"small":{"type":"integer","minimum":0},
			"TimeInForce":{"type":"string"}},
			"required":["note","order_type","asset_id","quantity"]}`},
		{"leg", []any{"components", "schemas", "leg"}, `{"type":"object","properties":{"qty":{"type":"string","pattern":"^[0-9]+$"},"side":{"$ref":"#/components/schemas/side"}},"required":["qty","side"]}`},
		{"side", []any{"components", "schemas", "side"}, `{"type":"string","enum":["buy","sell"]}`},
		{"error shape", []any{"components", "schemas", "Error", "required"}, `["detail","code"]`},
		{"validation shape", []any{"components", "schemas", "ValidationError", "properties", "detail"},
			`{"oneOf":[{"type":"array","items":{"$ref":"#/components/schemas/FieldError"}},{"type":"string"}]}`},
		{"field error shape", []any{"components", "schemas", "FieldError", "required"}, `["loc","msg","type"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dig(t, doc, tt.path...)
			if tt.want == "" {
				keys := []string{}
				for k := range got.(map[string]any) {
					keys = append(keys, k)
				}
				if len(keys) != 5 {
					t.Errorf("paths %v", keys)
				}
				return
			}
			if want := mustJSON(t, tt.want); !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
		})
	}
	if n := len(schemas.(map[string]any)); n != 11 {
		t.Errorf("%d component schemas", n)
	}
}

func TestOpenAPICachedAndInvalidated(t *testing.T) {
	api := newTestAPI(t)
	a, b := api.OpenAPI(), api.OpenAPI()
	if &a[0] != &b[0] {
		t.Fatal("document not cached")
	}
	api.Handle(httpapi.Op{Method: "GET", Path: "/new", OperationID: "newOp"}, func(http.ResponseWriter, *http.Request) {})
	c := api.OpenAPI()
	if bytes.Equal(a, c) || !bytes.Contains(c, []byte(`"/new"`)) {
		t.Fatal("document not rebuilt after Handle")
	}
}

func TestComponentNameCollision(t *testing.T) {
	type thing struct {
		A string `json:"a"`
	}
	first := reflect.TypeFor[thing]()
	second := func() reflect.Type {
		type thing struct {
			B string `json:"b"`
		}
		return reflect.TypeFor[thing]()
	}()
	third := func() reflect.Type {
		type thing struct {
			C string `json:"c"`
		}
		return reflect.TypeFor[thing]()
	}()
	api := httpapi.New(httpapi.Options{})
	noop := func(http.ResponseWriter, *http.Request) {}
	api.Handle(httpapi.Op{Method: "GET", Path: "/a", OperationID: "a", Response: first}, noop)
	api.Handle(httpapi.Op{Method: "GET", Path: "/b", OperationID: "b", Response: second}, noop)
	api.Handle(httpapi.Op{Method: "GET", Path: "/c", OperationID: "c", Response: third}, noop)
	var doc any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, name := range map[string]string{"/a": "thing", "/b": "httpapi_test.thing", "/c": "thing2"} {
		got := dig(t, doc, "paths", path, "get", "responses", "200", "content", "application/json", "schema", "$ref")
		if got != "#/components/schemas/"+name {
			t.Errorf("%s: %v", path, got)
		}
	}
	if got := dig(t, doc, "components", "schemas", "thing2", "required"); !reflect.DeepEqual(got, []any{"c"}) {
		t.Errorf("thing2 %v", got)
	}
}

func TestWriteError(t *testing.T) {
	storeErr := errors.New("pebble: disk on fire at /var/lib/secret")
	tests := []struct {
		name   string
		err    error
		status int
		want   string
		logged bool
	}{
		{"not found", apperr.New(apperr.NotFound, "order %s not found", "o1"), 404, `{"detail":"order o1 not found","code":"not_found"}`, false},
		{"wrapped conflict", fmt.Errorf("cancel: %w", apperr.New(apperr.Conflict, "order is filled")), 409, `{"detail":"order is filled","code":"conflict"}`, false},
		{"forbidden", apperr.New(apperr.Forbidden, "admin only"), 403, `{"detail":"admin only","code":"forbidden"}`, false},
		{"invalid without fields", apperr.New(apperr.Invalid, "daily limit reached"), 422, `{"detail":"daily limit reached","code":"invalid"}`, false},
		{"invalid with fields", apperr.Field("amount", "must be > 0", "value_error"), 422, `{"detail":[{"loc":["body","amount"],"msg":"must be > 0","type":"value_error"}],"code":"invalid"}`, false},
		{"insufficient funds", apperr.New(apperr.InsufficientFunds, "insufficient funds"), 422, `{"detail":"insufficient funds","code":"insufficient_funds"}`, false},
		{"rate limited", apperr.New(apperr.RateLimited, "slow down"), 429, `{"detail":"slow down","code":"rate_limited"}`, false},
		{"unavailable", apperr.New(apperr.Unavailable, "store not ready"), 503, `{"detail":"store not ready","code":"unavailable"}`, false},
		{"too large", httpapi.ErrTooLarge, 413, `{"detail":"request body too large","code":"payload_too_large"}`, false},
		{"internal", apperr.Wrap(apperr.Internal, storeErr, "place order"), 500, `{"detail":"internal server error","code":"internal"}`, true},
		{"plain error", storeErr, 500, `{"detail":"internal server error","code":"internal"}`, true},
		{"unknown kind", &apperr.Error{Kind: "weird", Message: "secret"}, 500, `{"detail":"internal server error","code":"internal"}`, true},
		{"nil", nil, 500, `{"detail":"internal server error","code":"internal"}`, true},
	}
	var logs bytes.Buffer
	captureDefaultLog(t, slog.NewJSONHandler(&logs, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequest("GET", "/api/v1/x", nil).WithContext(context.Background())
			r.Header.Set("X-Request-ID", "req-42")
			w := httptest.NewRecorder()
			httpapi.WriteError(w, r, tt.err)
			if body := strings.TrimSuffix(w.Body.String(), "\n"); w.Code != tt.status || body != tt.want {
				t.Fatalf("got %d %s", w.Code, body)
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Content-Length") != fmt.Sprint(w.Body.Len()) {
				t.Errorf("headers %v", w.Header())
			}
			if tt.logged != (logs.Len() > 0) {
				t.Fatalf("logged %q", logs.String())
			}
			// ErrorAnswer (a batch's results) gives the same answer and logs the same.
			logged := logs.String()
			logs.Reset()
			status, eb := httpapi.ErrorAnswer(r, tt.err)
			var ebJSON bytes.Buffer
			enc := json.NewEncoder(&ebJSON)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(eb)
			if status != tt.status || strings.TrimSuffix(ebJSON.String(), "\n") != tt.want {
				t.Errorf("ErrorAnswer: %d %s", status, ebJSON.String())
			}
			untimed := regexp.MustCompile(`"time":"[^"]*",`)
			if got := untimed.ReplaceAllString(logs.String(), ""); got != untimed.ReplaceAllString(logged, "") {
				t.Errorf("ErrorAnswer logged %q, WriteError %q", logs.String(), logged)
			}
			if tt.logged {
				var rec map[string]any
				if err := json.Unmarshal([]byte(logged), &rec); err != nil {
					t.Fatal(err)
				}
				if rec["level"] != "ERROR" || rec["request_id"] != "req-42" || rec["path"] != "/api/v1/x" || rec["method"] != "GET" {
					t.Errorf("log %v", rec)
				}
				if tt.err != nil && !strings.Contains(fmt.Sprint(rec["err"]), tt.err.Error()) {
					t.Errorf("log err %v", rec["err"])
				}
			}
		})
	}
	logs.Reset()
	w := httptest.NewRecorder()
	httpapi.WriteError(w, nil, storeErr)
	if w.Code != 500 || !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("nil request: %d %s", w.Code, logs.String())
	}
}

// TestWriteErrorClientGone: an error caused by the client leaving is
// recorded as 499, without a body or an error log; any other error of a
// request whose client left, and a cancellation while the client is still
// there, are answered as usual.
func TestWriteErrorClientGone(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	canceled := fmt.Errorf("transact: %w", context.Canceled)
	storeErr := errors.New("pebble: disk on fire")
	tests := []struct {
		name   string
		ctx    context.Context
		err    error
		status int
		logged bool
	}{
		{"client gone", gone, canceled, apperr.StatusClientClosedRequest, false},
		{"client gone, other error", gone, storeErr, 500, true},
		{"client gone, client error", gone, apperr.New(apperr.NotFound, "order o1 not found"), 404, false},
		{"canceled, client still there", context.Background(), canceled, 500, true},
	}
	var logs bytes.Buffer
	captureDefaultLog(t, slog.NewJSONHandler(&logs, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequest("POST", "/api/v1/orders", nil).WithContext(tt.ctx)
			w := httptest.NewRecorder()
			httpapi.WriteError(w, r, tt.err)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == apperr.StatusClientClosedRequest && w.Body.Len() != 0 {
				t.Errorf("body %q", w.Body.String())
			}
			if status, eb := httpapi.ErrorAnswer(r, tt.err); status != tt.status || (eb == nil) != (tt.status == apperr.StatusClientClosedRequest) {
				t.Errorf("ErrorAnswer: %d %v", status, eb)
			}
			if tt.logged != strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("logged %q", logs.String())
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var logs bytes.Buffer
	captureDefaultLog(t, slog.NewTextHandler(&logs, nil))
	tests := []struct {
		name   string
		status int
		v      any
		want   int
		body   string
	}{
		{"created", 201, map[string]any{"message": "User registered successfully"}, 201, `{"message":"User registered successfully"}` + "\n"},
		{"no content", 204, map[string]int{"x": 1}, 204, ""},
		{"not modified", 304, nil, 304, ""},
		{"unencodable", 200, map[string]any{"c": make(chan int)}, 500, `{"detail":"internal server error","code":"internal"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpapi.WriteJSON(w, tt.status, tt.v)
			if w.Code != tt.want || w.Body.String() != tt.body {
				t.Fatalf("got %d %q", w.Code, w.Body.String())
			}
		})
	}
	if !strings.Contains(logs.String(), "encode response") {
		t.Errorf("encode failure not logged: %q", logs.String())
	}
}

// captureDefaultLog makes h the default slog handler until the test ends.
func captureDefaultLog(t *testing.T, h slog.Handler) {
	t.Helper()
	prev := slog.Default()
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(prev) })
}
