package handlerkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

type message struct {
	Message string `json:"message"`
}

type pathIn struct {
	AssetID handlerkit.AssetID `path:"asset_id"`
	OrderID handlerkit.OrderID `path:"order_id"`
}

// serve registers h as GET /a/{asset_id}/o/{order_id} and answers one
// request, with the principal p when its username is set.
func serve[Out any](t *testing.T, h func(*http.Request, *pathIn) (Out, error), path string, p auth.Principal) (int, http.Header, string) {
	t.Helper()
	api := httpapi.New(httpapi.Options{NoDocs: true})
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/a/{asset_id}/o/{order_id}", OperationID: "x", Status: http.StatusCreated}, h)
	r := httptest.NewRequest("GET", path, nil)
	if p.Username != "" {
		r = r.WithContext(auth.WithPrincipal(context.Background(), p))
	}
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	return w.Code, w.Header(), strings.TrimSuffix(w.Body.String(), "\n")
}

// TestPathParameters: asset and order ids are checked with the messages
// of entity.ValidateAssetID and entity.ValidateOrderID, at ["path", name];
// an asset id is upper-cased.
func TestPathParameters(t *testing.T) {
	echo := func(r *http.Request, in *pathIn) (message, error) {
		return message{Message: string(in.AssetID) + " " + string(in.OrderID)}, nil
	}
	for _, tc := range []struct{ path, want string }{
		{"/a/btc/o/order_0123-x", `{"message":"BTC order_0123-x"}`},
		{"/a/b-c/o/short", `{"detail":[{"loc":["path","asset_id"],"msg":"must be 1-10 letters or digits","type":"value_error"},` +
			`{"loc":["path","order_id"],"msg":"must be 10-50 characters of letters, digits, _ and -","type":"value_error"}],"code":"invalid"}`},
		{"/a/ABCDEFGHIJK/o/order_0123-x", `{"detail":[{"loc":["path","asset_id"],"msg":"must be 1-10 letters or digits","type":"value_error"}],"code":"invalid"}`},
	} {
		if _, _, body := serve(t, echo, tc.path, auth.Principal{}); body != tc.want {
			t.Errorf("%s: %s\nwant %s", tc.path, body, tc.want)
		}
	}
}

// TestWithCaller: the handler gets the caller; without one it is not
// called and the answer is 401.
func TestWithCaller(t *testing.T) {
	called := false
	h := handlerkit.WithCaller(func(_ *http.Request, p auth.Principal, in *pathIn) (message, error) {
		called = true
		return message{Message: p.Username}, nil
	})
	if code, _, body := serve(t, h, "/a/btc/o/order_0123-x", auth.Principal{Username: "alice_01"}); code != 201 || body != `{"message":"alice_01"}` {
		t.Fatalf("with a caller: %d %s", code, body)
	}
	called = false
	code, hdr, body := serve(t, h, "/a/btc/o/order_0123-x", auth.Principal{})
	if called || code != 401 || body != `{"detail":"not authenticated","code":"unauthorized"}` || hdr.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("without: called %v, %d %s", called, code, body)
	}
}

// TestResult: a Result answers its body with the operation's status, or
// the stored replay with its own status, body and Idempotent-Replayed.
func TestResult(t *testing.T) {
	fresh := func(*http.Request, *pathIn) (*handlerkit.Result[message], error) {
		return &handlerkit.Result[message]{Body: message{Message: "made"}}, nil
	}
	code, hdr, body := serve(t, fresh, "/a/btc/o/order_0123-x", auth.Principal{})
	if code != 201 || body != `{"message":"made"}` || hdr.Get(handlerkit.ReplayedHeader) != "" {
		t.Fatalf("fresh: %d %v %s", code, hdr, body)
	}
	replay := func(*http.Request, *pathIn) (*handlerkit.Result[message], error) {
		return handlerkit.Replayed[message](&trading.Replay{Status: 200, Body: []byte(`{"message":"first"}`)}), nil
	}
	code, hdr, body = serve(t, replay, "/a/btc/o/order_0123-x", auth.Principal{})
	if code != 200 || body != `{"message":"first"}` || hdr.Get(handlerkit.ReplayedHeader) != "true" || hdr.Get("Content-Length") != "19" {
		t.Fatalf("replay: %d %v %s", code, hdr, body)
	}
}
