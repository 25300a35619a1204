package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory named go.mod is not a module file.
	bare := t.TempDir()
	if err := os.Mkdir(filepath.Join(bare, "go.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
		wantErr         bool
	}{
		{"the root itself", root, root, false},
		{"a nested directory", nested, root, false},
		{"no go.mod file above", bare, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ModuleRoot(tt.dir)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ModuleRoot(%s) = %q, %v; want %q, error %v", tt.dir, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHasFlag(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--addr", ":1"}, true},
		{[]string{"-addr=:1"}, true},
		{[]string{"--address", "x"}, false},
		{[]string{"--data-dir", "addr"}, false}, // a value, not a flag
	}
	for _, tt := range tests {
		if got := hasFlag(tt.args, "addr"); got != tt.want {
			t.Errorf("hasFlag(%q, addr) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Method: "POST", Path: "/p", Key: "k1", Body: []byte(`{"amount":"1.50"}`), Tag: "t1"}
	j.Sent(req)
	j.Outcome(req, Response{Status: 201, Body: []byte("{\"id\":\"x\"}\n"), Replayed: true}, nil)
	j.Outcome(req, Response{}, io.ErrUnexpectedEOF)
	j.Outcome(req, Response{Status: 502, Body: []byte("bad gateway")}, nil)
	j.Note("round %d", 7)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	var nilJournal *Journal
	nilJournal.Note("ignored") // a nil journal records nothing and does not panic
	if err := nilJournal.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	want := []JournalEntry{
		{Seq: 1, Phase: "sent", Tag: "t1", Key: "k1", Method: "POST", Path: "/p", Body: json.RawMessage(`{"amount":"1.50"}`)},
		{Seq: 2, Phase: "outcome", Tag: "t1", Key: "k1", Status: 201, Response: json.RawMessage(`{"id":"x"}`), Replayed: true},
		{Seq: 3, Phase: "outcome", Tag: "t1", Key: "k1", Error: io.ErrUnexpectedEOF.Error()},
		{Seq: 4, Phase: "outcome", Tag: "t1", Key: "k1", Status: 502, Response: json.RawMessage(`"bad gateway"`)},
		{Seq: 5, Phase: "note", Note: "round 7"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		if g.Time.IsZero() {
			t.Errorf("line %d has no time", i+1)
		}
		g.Time = time.Time{}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(want[i])
		if string(gb) != string(wb) {
			t.Errorf("line %d = %s, want %s", i+1, gb, wb)
		}
	}
}

func TestClientDo(t *testing.T) {
	var seen http.Header
	var seenBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		if r.Header.Get(IdempotencyHeader) == "replay-me" {
			w.Header().Set(ReplayedHeader, "true")
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	dir := t.TempDir()
	j, err := CreateJournal(filepath.Join(dir, "j.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	c := NewClient(srv.URL, j, 5*time.Second)
	ctx := context.Background()

	tests := []struct {
		name         string
		req          Request
		wantReplayed bool
	}{
		{"fresh", Request{Method: "POST", Path: "/x", Token: "tok", Key: "k1", Body: []byte(`{"a":1}`)}, false},
		{"replayed", Request{Method: "POST", Path: "/x", Key: "replay-me", Body: []byte(`{}`)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Do(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 201 || !resp.OK() || resp.Replayed != tt.wantReplayed || string(resp.Body) != `{"ok":true}` {
				t.Fatalf("got %+v", resp)
			}
			if seen.Get(IdempotencyHeader) != tt.req.Key || seenBody != string(tt.req.Body) || seen.Get("Content-Type") != "application/json" {
				t.Fatalf("server saw headers %v body %q", seen, seenBody)
			}
			wantAuth := ""
			if tt.req.Token != "" {
				wantAuth = "Bearer " + tt.req.Token
			}
			if seen.Get("Authorization") != wantAuth {
				t.Fatalf("Authorization %q, want %q", seen.Get("Authorization"), wantAuth)
			}
		})
	}

	var out struct {
		OK bool `json:"ok"`
	}
	if err := c.JSON(ctx, Request{Method: "GET", Path: "/y"}, 201, &out); err != nil || !out.OK {
		t.Fatalf("JSON: %v, %+v", err, out)
	}
	if err := c.JSON(ctx, Request{Method: "GET", Path: "/y"}, 200, nil); err == nil || !strings.Contains(err.Error(), "status 201, want 200") {
		t.Fatalf("JSON with the wrong status: %v", err)
	}

	// A server that is gone: a transport error, the outcome unknown.
	srv.Close()
	if _, err := c.Do(ctx, Request{Method: "POST", Path: "/x", Key: "k2", Body: []byte(`{}`)}); err == nil {
		t.Fatal("Do against a closed server: no error")
	}
	if c.BaseURL() != srv.URL {
		t.Fatalf("BaseURL %q, want %q", c.BaseURL(), srv.URL)
	}
}
