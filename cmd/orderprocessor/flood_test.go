package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of TestLoginFloodMemory.
const (
	floodLogins    = 1000
	floodMaxRSS    = 400 << 20
	floodMaxProbe  = 100 * time.Millisecond
	floodPassword  = "Fl00d!Passw0rd"
	floodUsername  = "flood_owner"
	floodProbeEach = 50 * time.Millisecond
	// floodRounds is how many floods the probes get to stay under
	// floodMaxProbe: on a machine shared with other work, scheduling alone
	// can delay one probe past it. The memory bound holds over all rounds.
	floodRounds = 5
)

// TestLoginFloodMemory starts the built binary with its default password
// hashing limits (and the per-IP and per-account login limits off, as
// against an attacker with many addresses) and sends 1,000 wrong-password
// logins at once, each on its own connection, from another process. The
// server's peak resident
// memory (VmHWM) stays under 400 MB, every login is answered 401 or 503
// with Retry-After, and meanwhile /health/live and an authenticated GET
// /api/v1/balance, probed every 50 ms, each answer within 100 ms (in one of
// up to five floods: see floodRounds). The race
// detector multiplies memory and CPU: scripts/test runs this test without
// it, and -race and -short skip it.
func TestLoginFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and floods it: not with -short")
	}
	if raceEnabled {
		t.Skip("the race detector multiplies memory and CPU; scripts/test runs this test without -race")
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	srv := startServer(t, bin, dir, "--price-feed", "static", "--login-max-failures", "0", "--login-account-max-failures", "0")

	client := &http.Client{Timeout: 30 * time.Second}
	post := func(path, token string, body any, wantStatus int) []byte {
		t.Helper()
		status, _, b := request(client, http.MethodPost, srv.url+path, token, body)
		if status != wantStatus {
			t.Fatalf("POST %s: %d, want %d: %s", path, status, wantStatus, b)
		}
		return b
	}
	post("/api/v1/auth/register", "", map[string]string{"username": floodUsername, "email": "flood@example.com",
		"password": floodPassword, "first_name": "Flood", "last_name": "Owner"}, http.StatusCreated)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(post("/api/v1/auth/login", "", map[string]string{"username": floodUsername, "password": floodPassword}, http.StatusOK), &login); err != nil {
		t.Fatal(err)
	}
	before := srv.memory(t)

	// The probe: its own keep-alive connection, opened before the flood.
	probeClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	probe := func(path, token string) (time.Duration, error) {
		t0 := time.Now()
		status, _, b := request(probeClient, http.MethodGet, srv.url+path, token, nil)
		d := time.Since(t0)
		if status != http.StatusOK {
			return d, fmt.Errorf("GET %s: %d %s", path, status, b)
		}
		return d, nil
	}
	for _, p := range []string{"/health/live", "/api/v1/balance"} {
		if _, err := probe(p, login.AccessToken); err != nil {
			t.Fatal(err)
		}
	}

	var rounds []floodRound
	for round := 1; round <= floodRounds; round++ {
		r := runFlood(t, srv, probe, login.AccessToken)
		rounds = append(rounds, r)
		t.Logf("round %d: %d wrong-password logins in %v: %v", round, floodLogins, r.took.Round(time.Millisecond), r.answers)
		t.Logf("round %d: /health/live: %d probes, median %v, max %v; GET /api/v1/balance: %d probes, median %v, max %v",
			round, len(r.live), median(r.live), r.live[len(r.live)-1], len(r.balance), median(r.balance), r.balance[len(r.balance)-1])
		if r.slowest() < floodMaxProbe {
			break
		}
	}
	after := srv.memory(t)
	t.Logf("server memory: VmRSS %d MB before the floods, %d MB after; peak (VmHWM) %d MB", before.rss>>20, after.rss>>20, after.hwm>>20)

	if after.hwm >= floodMaxRSS {
		t.Errorf("peak resident memory (VmHWM) %d MB, want under %d MB", after.hwm>>20, floodMaxRSS>>20)
	}
	for i, r := range rounds {
		if r.answers[http.StatusUnauthorized]+r.answers[http.StatusServiceUnavailable] != floodLogins || r.answers[http.StatusUnauthorized] == 0 {
			t.Errorf("round %d: answers %v, want only 401 and 503, some 401", i+1, r.answers)
		}
		if r.missingRetryAfter > 0 {
			t.Errorf("round %d: %d answers 503 without Retry-After", i+1, r.missingRetryAfter)
		}
		for _, err := range r.probeErrs {
			t.Errorf("round %d: probe during the flood: %v", i+1, err)
		}
		if len(r.live) < 3 {
			t.Errorf("round %d: only %d probes during the flood", i+1, len(r.live))
		}
	}
	if last := rounds[len(rounds)-1]; last.slowest() >= floodMaxProbe {
		t.Errorf("slowest probe during the flood %v in each of %d rounds, want under %v", last.slowest(), len(rounds), floodMaxProbe)
	}
}

// floodRound is what one flood of logins measured.
type floodRound struct {
	took              time.Duration
	answers           map[int]int // status: count (0: no answer)
	missingRetryAfter int
	live, balance     []time.Duration // probe latencies, sorted
	probeErrs         []error
}

func (r floodRound) slowest() time.Duration {
	return max(r.live[len(r.live)-1], r.balance[len(r.balance)-1])
}

// floodHelperEnv names the server URL a run of this test binary as the
// flood's client (TestLoginFloodClient) gets.
const floodHelperEnv = "LOGIN_FLOOD_URL"

// TestLoginFloodClient is the client side of a flood of TestLoginFloodMemory,
// run as a separate process (so that its 1,000 goroutines do not delay the
// probes in the test's process): it sends floodLogins wrong-password logins
// at once, each on its own connection, to the server at $LOGIN_FLOOD_URL
// and prints the statuses and how many 503s lacked Retry-After as JSON.
// Without the variable it does nothing.
func TestLoginFloodClient(t *testing.T) {
	url := os.Getenv(floodHelperEnv)
	if url == "" {
		return
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: floodLogins, DisableCompression: true}}
	var out struct {
		Answers           map[int]int
		MissingRetryAfter int
		Took              time.Duration
	}
	statuses := make([]int, floodLogins)
	retryAfter := make([]string, floodLogins)
	start := make(chan struct{})
	var flood sync.WaitGroup
	for i := range floodLogins {
		flood.Go(func() {
			<-start
			status, hdr, _ := request(client, http.MethodPost, url+"/api/v1/auth/login", "",
				map[string]string{"username": floodUsername, "password": fmt.Sprintf("Wr0ng!Guess%04d", i)})
			statuses[i] = status
			if hdr != nil {
				retryAfter[i] = hdr.Get("Retry-After")
			}
		})
	}
	t0 := time.Now()
	close(start)
	flood.Wait()
	out.Took = time.Since(t0)
	out.Answers = map[int]int{}
	for i, s := range statuses {
		out.Answers[s]++
		if s == http.StatusServiceUnavailable && retryAfter[i] == "" {
			out.MissingRetryAfter++
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("FLOOD %s\n", b)
}

// runFlood runs one flood from a separate process (TestLoginFloodClient)
// while probing /health/live and GET /api/v1/balance every floodProbeEach.
func runFlood(t *testing.T, srv *floodServer, probe func(path, token string) (time.Duration, error), token string) floodRound {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoginFloodClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), floodHelperEnv+"="+srv.url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var r floodRound
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
probing:
	for {
		select {
		case err = <-exited:
			break probing
		case <-time.After(floodProbeEach):
		}
		for _, p := range []struct {
			path, token string
			into        *[]time.Duration
		}{{"/health/live", "", &r.live}, {"/api/v1/balance", token, &r.balance}} {
			d, err := probe(p.path, p.token)
			if err != nil {
				r.probeErrs = append(r.probeErrs, err)
			}
			*p.into = append(*p.into, d)
		}
	}
	r.took = time.Since(t0)
	_, res, ok := strings.Cut(stdout.String(), "FLOOD ")
	if err != nil || !ok {
		t.Fatalf("flood client: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var out struct {
		Answers           map[int]int
		MissingRetryAfter int
		Took              time.Duration
	}
	res, _, _ = strings.Cut(res, "\n")
	if err := json.Unmarshal([]byte(res), &out); err != nil {
		t.Fatalf("flood client output %q: %v", res, err)
	}
	r.answers, r.missingRetryAfter, r.took = out.Answers, out.MissingRetryAfter, out.Took
	slices.Sort(r.live)
	slices.Sort(r.balance)
	if len(r.live) == 0 || len(r.balance) == 0 {
		t.Fatalf("no probe during a flood of %v", r.took)
	}
	return r
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2]
}

// request sends one request with an optional JSON body and bearer token and
// returns the status (0 on a transport error), the headers and the body.
func request(c *http.Client, method, url, token string, body any) (int, http.Header, []byte) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, []byte(err.Error())
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// buildServer builds this command into dir.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "orderprocessor")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// floodServer is a running orderprocessor serve.
type floodServer struct {
	cmd *exec.Cmd
	url string
	log *bytes.Buffer
}

var listeningOn = regexp.MustCompile(`listening on (http://\S+)`)

// startServer runs bin serve on a loopback port with args and waits for it
// to listen; the test's end stops it.
func startServer(t *testing.T, bin, dir string, args ...string) *floodServer {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORDERPROCESSOR_") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	env = append(env, "ORDERPROCESSOR_JWT_SECRET="+validSecret)
	s := &floodServer{log: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, args...)...)
	s.cmd.Env = env
	s.cmd.Stderr = &syncWriter{w: s.log}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningOn.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case s.url = <-urls:
	case <-exited:
		t.Fatalf("server exited before listening:\n%s", s.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("floodServer did not listen within 60 s:\n%s", s.log.String())
	}
	return s
}

// memoryUse is the resident memory of a process now and at its peak.
type memoryUse struct{ rss, hwm int64 }

// memory reads the server's VmRSS and VmHWM from /proc.
func (s *floodServer) memory(t *testing.T) memoryUse {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read the server's memory: %v", err)
	}
	var m memoryUse
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", name, val, err)
		}
		if name == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	if m.rss == 0 || m.hwm == 0 {
		t.Fatalf("no VmRSS/VmHWM in /proc/%d/status", s.cmd.Process.Pid)
	}
	return m
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
