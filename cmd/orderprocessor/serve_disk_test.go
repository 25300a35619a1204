package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// Environment of TestHelperServeFileLimit.
const (
	serveLimitDirEnv   = "SERVE_TEST_LIMIT_DIR"
	serveLimitBytesEnv = "SERVE_TEST_LIMIT_BYTES"
)

// TestServeOnFullDisk: serve on a disk that takes no more bytes ends with
// one line on stderr and status 1, no panic and no goroutine dump, for a
// new store (its MANIFEST cannot be written) and for a store whose log must
// be replayed into a table that cannot be written. The disk is full by the
// kernel's RLIMIT_FSIZE (a write past the limit fails with EFBIG), in a
// child process: no tmpfs or loop device.
func TestServeOnFullDisk(t *testing.T) {
	// A store with ~256 KiB of incompressible items in its log.
	withLog := t.TempDir()
	db, err := embedded.Open(withLog, dao.DefaultTables.Schemas(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		pad := make([]byte, 512)
		_, _ = rand.Read(pad)
		k := store.Key{Table: dao.DefaultTables.Inventory, PK: "FILL", SK: strconv.Itoa(i)}
		if err := db.Put(context.Background(), store.Put{Key: k, Item: store.Item{"pad": store.S(fmt.Sprintf("%x", pad))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		limit     int
		want      string // the end of the line
	}{
		{"new store", t.TempDir(), 0, "MANIFEST-000001: file too large"},
		{"store with a log to replay", withLog, 64 << 10, ".sst: file too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServeFileLimit$")
			cmd.Env = append(limitedChildEnv(), serveLimitDirEnv+"="+tc.dir, serveLimitBytesEnv+"="+strconv.Itoa(tc.limit),
				"ORDERPROCESSOR_JWT_SECRET="+validSecret)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("serve on a full disk still runs after 30s; stderr:\n%s", stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("serve on a full disk: %v, want exit status 1; stdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			// The error is the one line besides serve's info log lines
			// (the open-file limit it logs before it opens the store) and,
			// under go test -cover, the test binary's note that it writes
			// no coverage data (limitedChildEnv).
			var lines []string
			for _, l := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
				if !strings.Contains(l, "level=INFO") && l != "warning: GOCOVERDIR not set, no coverage data emitted" {
					lines = append(lines, l)
				}
			}
			prefix := "serve: open store in " + tc.dir + ": embedded: open " + tc.dir + ": "
			if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) || !strings.HasSuffix(lines[0], tc.want) {
				t.Fatalf("stderr:\n%s\nwant one line %q...%q", stderr.String(), prefix, tc.want)
			}
		})
	}
}

// limitedChildEnv is this process's environment without GOCOVERDIR: a
// child under a file-size limit cannot write coverage data (under go test
// -cover), and its failure to would add lines to the stderr the tests read.
func limitedChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOCOVERDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

// server is serve running in a child process (TestHelperServeFileLimit).
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	done   chan error
}

// startServe runs serve on dir in a child process whose files may not grow
// past limit bytes (no limit when limit is negative), and waits until it
// listens.
func startServe(t *testing.T, dir string, limit int) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServeFileLimit$")
	cmd.Env = append(limitedChildEnv(), serveLimitDirEnv+"="+dir, "ORDERPROCESSOR_JWT_SECRET="+validSecret, "ORDERPROCESSOR_RATE_LIMIT=0")
	if limit >= 0 {
		cmd.Env = append(cmd.Env, serveLimitBytesEnv+"="+strconv.Itoa(limit))
	}
	s := &server{t: t, cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listenURL.FindString(sc.Text()); m != "" && strings.Contains(sc.Text(), "listening") {
				urls <- m
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.url = <-urls:
	case err := <-s.done:
		t.Fatalf("serve ended before it listened: %v; stderr:\n%s", err, s.stderr.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve does not listen after 30s; stderr:\n%s", s.stderr.String())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return s
}

var listenURL = regexp.MustCompile(`http://[0-9a-z.:]+`)

// stop ends the server with SIGTERM and waits for it: status 0 within 20s.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("serve after SIGTERM: %v; stderr:\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Fatalf("serve still runs 20s after SIGTERM; stderr:\n%s", s.stderr.String())
	}
}

// do sends a request; a request without an answer within 10s (a hang)
// fails the test.
func (s *server) do(method, path, token string, body any, hdr ...string) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, err := io.ReadAll(resp.Body)
	if err == nil && len(b) > 0 {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		s.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
	}
	return resp.StatusCode, m
}

// login returns an access token of user name, registering it first when
// register is set.
func (s *server) login(name string, register bool) string {
	s.t.Helper()
	const password = "Str0ng-Passw0rd!"
	if register {
		if st, m := s.do("POST", "/api/v1/auth/register", "", map[string]any{"username": name, "email": name + "@example.com",
			"password": password, "first_name": "Disk", "last_name": "Full"}); st != 201 {
			s.t.Fatalf("register: %d %v", st, m)
		}
	}
	st, m := s.do("POST", "/api/v1/auth/login", "", map[string]any{"username": name, "password": password})
	tok, _ := m["access_token"].(string)
	if st != 200 || tok == "" {
		s.t.Fatalf("login: %d %v", st, m)
	}
	return tok
}

// TestServeDiskFillsWhileRunning: serve's log reaches the end of the disk
// (RLIMIT_FSIZE of 1 MiB, in a child process: no tmpfs or loop device)
// while clients deposit. The deposit that meets it and every request after
// it are answered 503 store_unavailable at once, /health/ready 503; SIGTERM
// ends the server. Restarted without the limit, the balance holds every
// acknowledged deposit (and at most the one that failed).
func TestServeDiskFillsWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a log of 1 MiB over HTTP")
	}
	dir := t.TempDir()
	s := startServe(t, dir, 1<<20)
	tok := s.login("disk_full_1", true)
	acked := 0
	var st int
	var m map[string]any
	for i := range 20000 {
		st, m = s.do("POST", "/api/v1/balance/deposit", tok, map[string]any{"amount": "1"}, "Idempotency-Key", fmt.Sprintf("dep-%d", i))
		if st != 201 {
			break
		}
		acked++
	}
	want := map[string]any{"detail": "store unavailable", "code": "store_unavailable"}
	if st != 503 || !maps.Equal(m, want) {
		t.Fatalf("after %d deposits: %d %v, want 503 %v; stderr:\n%s", acked, st, m, want, s.stderr.String())
	}
	start := time.Now()
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/balance/deposit", map[string]any{"amount": "1"}},
		{"POST", "/api/v1/orders", map[string]any{"order_type": "market_buy", "asset_id": "BTC", "quantity": "0.001"}},
		{"GET", "/api/v1/balance", nil},
	} {
		if st, m := s.do(r.method, r.path, tok, r.body); st != 503 || !maps.Equal(m, want) {
			t.Errorf("%s %s after the disk filled: %d %v, want 503 %v", r.method, r.path, st, m, want)
		}
	}
	if st, m := s.do("GET", "/health/ready", "", nil); st != 503 || m["message"] != "not ready: store" {
		t.Errorf("ready after the disk filled: %d %v", st, m)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("requests after the disk filled took %v, want them answered at once", d)
	}
	s.stop()
	if strings.Contains(s.stderr.String(), "panic") {
		t.Errorf("stderr:\n%s", s.stderr.String())
	}

	s = startServe(t, dir, -1)
	tok = s.login("disk_full_1", false)
	st, m = s.do("GET", "/api/v1/balance", tok, nil)
	bal, _ := m["current_balance"].(string)
	if st != 200 || (bal != fmt.Sprintf("%d.00", acked) && bal != fmt.Sprintf("%d.00", acked+1)) {
		t.Fatalf("balance after the restart: %d %v, want %d.00 acknowledged deposits (or one more)", st, m, acked)
	}
	t.Logf("%d deposits acknowledged before the disk filled; balance after the restart %s", acked, bal)
	s.stop()
}

// TestHelperServeFileLimit is run as a subprocess by TestServeOnFullDisk:
// it limits the size of the files it writes and runs serve.
func TestHelperServeFileLimit(t *testing.T) {
	dir := os.Getenv(serveLimitDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	if env := os.Getenv(serveLimitBytesEnv); env != "" {
		limit, err := strconv.ParseUint(env, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
			t.Fatal(err)
		}
	}
	os.Exit(runServe([]string{"--data-dir", dir, "--addr", "127.0.0.1:0", "--price-feed", "static", "--deposit-daily-limit", "0"}))
}
