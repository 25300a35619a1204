package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/testenv"
)

// upperID is a path parameter that validates and normalises itself.
type upperID string

func (u *upperID) UnmarshalText(b []byte) error {
	if len(b) > 5 {
		return &apperr.Error{Kind: apperr.Invalid, Message: "id: too long",
			Fields: []apperr.FieldError{{Msg: "must be at most 5 characters", Type: "value_error"}}}
	}
	*u = upperID(strings.ToUpper(string(b)))
	return nil
}

// ItemPath is shared by several inputs (embedded).
type ItemPath struct {
	ItemID upperID `path:"item_id" doc:"the item" pattern:"^[a-zA-Z]{1,5}$"`
}

// Paging is a query shared by several inputs (embedded).
type Paging struct {
	Limit int `query:"limit" default:"10" minimum:"1" maximum:"50"`
}

type updateIn struct {
	ItemPath
	Slot string `path:"slot" pattern:"^[0-9]{1,2}$"`
	Paging
	Body orderReq
}

type updateOut struct {
	ItemID  string `json:"item_id"`
	Slot    string `json:"slot"`
	Limit   int    `json:"limit"`
	AssetID string `json:"asset_id"`
}

// replayed is a result that writes itself.
type replayed struct {
	stored []byte
	fresh  updateOut
}

func (p *replayed) WriteResponse(w http.ResponseWriter, _ *http.Request, status int) {
	if p.stored != nil {
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(p.stored)
		return
	}
	httpapi.WriteJSON(w, status, &p.fresh)
}

func typedAPI(t *testing.T, rejected *[]string) *httpapi.API {
	t.Helper()
	api := httpapi.New(httpapi.Options{})
	httpapi.Handle(api, httpapi.Op{Method: "PUT", Path: "/items/{item_id}/slots/{slot}", OperationID: "update", Status: http.StatusAccepted},
		func(r *http.Request, in *updateIn) (updateOut, error) {
			switch in.Body.AssetID {
			case "FAIL":
				return updateOut{}, apperr.New(apperr.Conflict, "asset busy")
			case "BUSY":
				return updateOut{}, httpapi.WithHeader(httpapi.WithHeader(apperr.New(apperr.Unavailable, "try later"),
					"Retry-After", "3"), "Connection", "close")
			}
			return updateOut{ItemID: string(in.ItemID), Slot: in.Slot, Limit: in.Limit, AssetID: in.Body.AssetID}, nil
		}, httpapi.OnRejected(func(_ *http.Request, err error) { *rejected = append(*rejected, string(apperr.KindOf(err))) }))
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/items/{item_id}", OperationID: "replay", Response: updateOut{}, Status: http.StatusCreated},
		func(r *http.Request, in *struct {
			ItemPath
			Body orderReq
		}) (*replayed, error) {
			if in.Body.AssetID == "AGAIN" {
				return &replayed{stored: []byte(`{"stored":true}`)}, nil
			}
			return &replayed{fresh: updateOut{ItemID: string(in.ItemID), AssetID: in.Body.AssetID}}, nil
		})
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/ping", OperationID: "ping"},
		func(*http.Request, *struct{}) (map[string]bool, error) { return map[string]bool{"pong": true}, nil })
	return api
}

func TestHandle(t *testing.T) {
	var rejected []string
	srv := httptest.NewServer(typedAPI(t, &rejected))
	t.Cleanup(srv.Close)
	c := srv.Client()
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
		header                   map[string]string
	}{
		{"decoded", "PUT", "/items/abc/slots/7?limit=20", `{"asset_id":"BTC"}`, 202,
			`{"item_id":"ABC","slot":"7","limit":20,"asset_id":"BTC"}`, nil},
		{"query default", "PUT", "/items/abc/slots/07", `{"asset_id":"ETH"}`, 202,
			`{"item_id":"ABC","slot":"07","limit":10,"asset_id":"ETH"}`, nil},
		{"both path fields invalid", "PUT", "/items/abcdefg/slots/x?limit=0", `[]`, 422,
			`{"detail":[{"loc":["path","item_id"],"msg":"must be at most 5 characters","type":"value_error"},` +
				`{"loc":["path","slot"],"msg":"String should match pattern '^[0-9]{1,2}$'","type":"string_pattern_mismatch"}],"code":"invalid"}`, nil},
		{"query before body", "PUT", "/items/abc/slots/1?limit=0", `[]`, 422,
			`{"detail":[{"loc":["query","limit"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"}],"code":"invalid"}`, nil},
		{"body", "PUT", "/items/abc/slots/1", `{"asset_id":5}`, 422,
			`{"detail":[{"loc":["body","asset_id"],"msg":"Input should be a valid string","type":"string_type"}],"code":"invalid"}`, nil},
		{"body repeated key", "PUT", "/items/abc/slots/1", `{"asset_id":"A","asset_id":"B"}`, 400,
			`{"detail":"invalid request body: duplicate key \"asset_id\" in body","code":"bad_request"}`, nil},
		{"handler error", "PUT", "/items/abc/slots/1", `{"asset_id":"FAIL"}`, 409,
			`{"detail":"asset busy","code":"conflict"}`, nil},
		{"error headers", "PUT", "/items/abc/slots/1", `{"asset_id":"BUSY"}`, 503,
			`{"detail":"try later","code":"unavailable"}`, map[string]string{"Retry-After": "3", "Connection": "close"}},
		{"responder fresh", "POST", "/items/x", `{"asset_id":"SOL"}`, 201,
			`{"item_id":"X","slot":"","limit":0,"asset_id":"SOL"}`, map[string]string{"Idempotent-Replayed": ""}},
		{"responder replay", "POST", "/items/x", `{"asset_id":"AGAIN"}`, 200,
			`{"stored":true}`, map[string]string{"Idempotent-Replayed": "true"}},
		{"no input", "GET", "/ping", ``, 200, `{"pong":true}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, c, tc.method, srv.URL+tc.path, tc.body)
			if resp.StatusCode != tc.status || body != tc.want {
				t.Fatalf("%d %s\nwant %d %s", resp.StatusCode, body, tc.status, tc.want)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v && !(k == "Connection" && resp.Close) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	// Only the requests refused before the handler ran are reported.
	if want := []string{"invalid", "invalid", "invalid", "bad_request"}; !reflect.DeepEqual(rejected, want) {
		t.Fatalf("rejected %v, want %v", rejected, want)
	}
}

// TestHandleDeclares: the typed registration documents exactly what an
// explicit declaration of the same types documents.
func TestHandleDeclares(t *testing.T) {
	var rejected []string
	typed := typedAPI(t, &rejected)
	ops := typed.Operations()
	if ops[0].Request != reflect.TypeFor[orderReq]() || ops[0].Response != reflect.TypeFor[updateOut]() ||
		ops[0].Query != reflect.TypeFor[updateIn]() || ops[0].PathParams != reflect.TypeFor[updateIn]() {
		t.Fatalf("derived %+v", ops[0])
	}
	if ops[1].Query != nil || ops[1].Response != (updateOut{}) || ops[2].Request != nil || ops[2].PathParams != nil {
		t.Fatalf("derived %+v / %+v", ops[1], ops[2])
	}
	type updatePath struct {
		ItemID string `path:"item_id" doc:"the item" pattern:"^[a-zA-Z]{1,5}$"`
		Slot   string `path:"slot" pattern:"^[0-9]{1,2}$"`
	}
	type updateQuery struct {
		Limit int `query:"limit" default:"10" minimum:"1" maximum:"50"`
	}
	plain := httpapi.New(httpapi.Options{})
	nop := func(http.ResponseWriter, *http.Request) {}
	plain.Handle(httpapi.Op{Method: "PUT", Path: "/items/{item_id}/slots/{slot}", OperationID: "update", Status: http.StatusAccepted,
		PathParams: updatePath{}, Query: updateQuery{}, Request: orderReq{}, Response: updateOut{}}, nop)
	plain.Handle(httpapi.Op{Method: "POST", Path: "/items/{item_id}", OperationID: "replay", Status: http.StatusCreated,
		PathParams: ItemPath{}, Request: orderReq{}, Response: updateOut{}}, nop)
	plain.Handle(httpapi.Op{Method: "GET", Path: "/ping", OperationID: "ping", Response: map[string]bool{}}, nop)
	if got, want := string(typed.OpenAPI()), string(plain.OpenAPI()); got != want {
		t.Fatalf("typed document\n%s\nwant\n%s", got, want)
	}
}

func TestHandleTypedPanics(t *testing.T) {
	type idIn struct {
		ID string `path:"id"`
	}
	type floatPath struct {
		ID float64 `path:"id"`
	}
	type queryIn struct {
		Limit int `query:"limit"`
	}
	type otherQuery struct {
		Offset int `query:"offset"`
	}
	noop := func(*http.Request, *idIn) (updateOut, error) { return updateOut{}, nil }
	for name, register := range map[string]func(api *httpapi.API){
		"wildcard without field": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a/{id}/{other}", OperationID: "x"}, noop)
		},
		"field without wildcard": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a", OperationID: "x"}, noop)
		},
		"path type": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a/{id}", OperationID: "x"},
				func(*http.Request, *floatPath) (updateOut, error) { return updateOut{}, nil })
		},
		"input not a struct": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a", OperationID: "x"},
				func(*http.Request, *string) (updateOut, error) { return updateOut{}, nil })
		},
		"declared request": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a/{id}", OperationID: "x", Request: orderReq{}}, noop)
		},
		"declared response": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a/{id}", OperationID: "x", Response: orderReq{}}, noop)
		},
		"declared query": func(api *httpapi.API) {
			httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a", OperationID: "x", Query: otherQuery{}},
				func(*http.Request, *queryIn) (updateOut, error) { return updateOut{}, nil })
		},
		"nil handler": func(api *httpapi.API) {
			httpapi.Handle[idIn, updateOut](api, httpapi.Op{Method: "GET", Path: "/a/{id}", OperationID: "x"}, nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			register(httpapi.New(httpapi.Options{}))
		})
	}
	// The same declarations, matching, are accepted.
	api := httpapi.New(httpapi.Options{})
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a/{id}", OperationID: "x", PathParams: idIn{}, Response: &updateOut{}}, noop)
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/b", OperationID: "y", Query: queryIn{}},
		func(*http.Request, *queryIn) (updateOut, error) { return updateOut{}, nil })
}

// orderEnvelope answers an order as the order route does: with AppendJSON.
type orderEnvelope struct {
	Data entity.OrderResponse `json:"data"`
}

func (e orderEnvelope) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"data":`...)
	dst = e.Data.AppendJSON(dst)
	return append(dst, '}'), nil
}

// orderBody is a market order body that entity.OrderCreate's DecodeFast takes.
const orderBody = `{"order_type":"market_buy","asset_id":"BTC","quantity":"0.5"}`

// orderHandlers are the same order route written by hand and typed: both
// decode entity.OrderCreate (FastDecoder) and answer an orderEnvelope
// (JSONAppender).
func orderHandlers() (plain http.Handler, typed http.Handler) {
	answer := func(req *entity.OrderCreate) orderEnvelope {
		return orderEnvelope{Data: entity.OrderResponse{OrderID: "o1", AssetID: req.AssetID, OrderType: req.OrderType}}
	}
	p := httpapi.New(httpapi.Options{NoDocs: true})
	p.Handle(httpapi.Op{Method: "POST", Path: "/orders", OperationID: "create", Status: http.StatusCreated},
		func(w http.ResponseWriter, r *http.Request) {
			var req entity.OrderCreate
			if err := httpapi.DecodeJSON(r, &req); err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			httpapi.WriteJSON(w, http.StatusCreated, answer(&req))
		})
	ty := httpapi.New(httpapi.Options{NoDocs: true})
	httpapi.Handle(ty, httpapi.Op{Method: "POST", Path: "/orders", OperationID: "create", Status: http.StatusCreated},
		func(r *http.Request, in *struct{ Body entity.OrderCreate }) (orderEnvelope, error) {
			return answer(&in.Body), nil
		})
	return p, ty
}

// discard is a reusable ResponseWriter that keeps the last body.
type discard struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.status = code }
func (d *discard) Write(p []byte) (int, error) { return d.body.Write(p) }

// serveOrder returns a function that serves one order request with h.
func serveOrder(h http.Handler) (serve func(), w *discard) {
	body := strings.NewReader(orderBody)
	r := httptest.NewRequest("POST", "/orders", io.NopCloser(body))
	r.ContentLength = -1
	w = &discard{h: http.Header{}}
	return func() {
		body.Reset(orderBody)
		w.body.Reset()
		h.ServeHTTP(w, r)
	}, w
}

// TestHandleAllocations: the typed route allocates no more per request
// than the same route written by hand, on the order path's fast decoder
// and appender.
func TestHandleAllocations(t *testing.T) {
	if testenv.RaceEnabled {
		// The race detector's sync.Pool drops objects at random, so the
		// counts of two runs differ.
		t.Skip("allocation counts: run without the race detector (scripts/test does)")
	}
	plain, typed := orderHandlers()
	servePlain, wp := serveOrder(plain)
	serveTyped, wt := serveOrder(typed)
	servePlain()
	serveTyped()
	if wp.status != 201 || wt.status != 201 || wp.body.String() != wt.body.String() ||
		!json.Valid(wt.body.Bytes()) || !strings.Contains(wt.body.String(), `"asset_id":"BTC"`) {
		t.Fatalf("plain %d %s\ntyped %d %s", wp.status, wp.body.String(), wt.status, wt.body.String())
	}
	a, b := testing.AllocsPerRun(200, servePlain), testing.AllocsPerRun(200, serveTyped)
	if b > a {
		t.Fatalf("typed route: %.1f allocations per request, by hand %.1f", b, a)
	}
	t.Logf("allocations per request: by hand %.1f, typed %.1f", a, b)
}

func BenchmarkHandleOrder(b *testing.B) {
	plain, typed := orderHandlers()
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"by_hand", plain}, {"typed", typed}} {
		b.Run(bc.name, func(b *testing.B) {
			serve, _ := serveOrder(bc.h)
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}
