package httpapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/httpapi"
)

// appended encodes itself with AppendJSON; its field tags would make
// encoding/json write something else, so the body shows which path ran.
type appended struct {
	Name string `json:"other_name"`
	Err  error  `json:"-"`
}

func (a appended) AppendJSON(dst []byte) ([]byte, error) {
	if a.Err != nil {
		return append(dst, "garbage"...), a.Err
	}
	dst = append(dst, `{"name":"`...)
	dst = append(dst, a.Name...)
	return append(dst, `"}`...), nil
}

var _ httpapi.JSONAppender = appended{}

func TestWriteJSONAppender(t *testing.T) {
	var logs bytes.Buffer
	captureDefaultLog(t, slog.NewTextHandler(&logs, nil))
	long := strings.Repeat("x<&>", 5000) // beyond a fresh buffer's capacity
	tests := []struct {
		name   string
		status int
		v      any
		want   int
		body   string
	}{
		{"created", 201, appended{Name: "a<b>"}, 201, `{"name":"a<b>"}` + "\n"},
		{"pointer", 200, &appended{Name: "p"}, 200, `{"name":"p"}` + "\n"},
		{"long", 200, appended{Name: long}, 200, `{"name":"` + long + `"}` + "\n"},
		{"short after long", 200, appended{Name: "s"}, 200, `{"name":"s"}` + "\n"},
		{"plain struct", 200, struct {
			Name string `json:"other_name"`
		}{"a<b>"}, 200, `{"other_name":"a<b>"}` + "\n"},
		{"no content", 204, appended{Name: "x"}, 204, ""},
		{"error", 201, appended{Err: errors.New("decimal out of range")}, 500, `{"detail":"internal server error","code":"internal"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			w := httptest.NewRecorder()
			httpapi.WriteJSON(w, tt.status, tt.v)
			if w.Code != tt.want || w.Body.String() != tt.body {
				t.Fatalf("got %d %q", w.Code, w.Body.String())
			}
			if tt.body == "" {
				return
			}
			if ct, cl := w.Header().Get("Content-Type"), w.Header().Get("Content-Length"); ct != "application/json" || cl != fmt.Sprint(len(tt.body)) {
				t.Errorf("Content-Type %q, Content-Length %q", ct, cl)
			}
			if logged := strings.Contains(logs.String(), "encode response"); logged != (tt.want == 500) {
				t.Errorf("logged %v: %q", logged, logs.String())
			}
			if tt.want == 500 && !strings.Contains(logs.String(), "append httpapi_test.appended: decimal out of range") {
				t.Errorf("log %q", logs.String())
			}
		})
	}
}
