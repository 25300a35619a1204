package multiproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// The service roles of a cluster, in start order.
var serviceRoles = []string{"inventory", "user", "order"}

// clusterOptions shape a cluster.
type clusterOptions struct {
	replicas int                 // of each service role; 2 when 0
	gateways int                 // 2 when 0
	redis    string              // Redis URL given to every process ("" for none)
	args     map[string][]string // extra serve flags by role ("gateway" too)
}

// cluster is the microservice deployment run as separate processes on
// loopback: replicas of every service on one DynamoDB (fresh tables) and,
// when given, one Redis, behind gateways that take turns at the replicas.
type cluster struct {
	t        *testing.T
	bin, dir string
	opts     clusterOptions
	store    []string            // the store flags of every process
	replicas map[string][]*proc  // by role
	gateways []*proc             // in start order
	admin    string              // the admin's token
	mu       sync.Mutex          // guards replicas during restarts
	extra    map[string][]string // opts.args
}

// startCluster migrates fresh tables, starts the replicas and gateways,
// waits until every process is ready and logs the admin in. On failure it
// prints every process's log.
func startCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	ep := endpoint(t)
	if opts.replicas == 0 {
		opts.replicas = 2
	}
	if opts.gateways == 0 {
		opts.gateways = 2
	}
	c := &cluster{t: t, bin: binary(t), dir: t.TempDir(), opts: opts, replicas: map[string][]*proc{}, extra: opts.args}
	prefix := fmt.Sprintf("cl%d%d-", os.Getpid(), time.Now().UnixNano()%1e7)
	mig := exec.Command(c.bin, "migrate", "--dynamodb-endpoint", ep, "--aws-region", region, "--table-prefix", prefix)
	mig.Env = childEnv()
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	t.Cleanup(func() { dropTables(t, ep, prefix) })
	c.store = []string{"--store", "dynamodb", "--dynamodb-endpoint", ep, "--aws-region", region, "--table-prefix", prefix}
	if opts.redis != "" {
		c.store = append(c.store, "--redis-url", opts.redis, "--redis-prefix", "orderprocessor:"+prefix)
	}
	t0 := time.Now()
	for _, role := range serviceRoles {
		for i := range opts.replicas {
			c.replicas[role] = append(c.replicas[role], c.startReplica(role, i))
		}
	}
	for i := range opts.gateways {
		args := append([]string{"--role", "gateway", "--user-url", c.urls("user"), "--order-url", c.urls("order"),
			"--inventory-url", c.urls("inventory"), "--breaker-failures", "2", "--breaker-cooldown", "2s"}, c.store...)
		c.gateways = append(c.gateways, start(t, c.bin, c.dir, fmt.Sprintf("gateway-%d", i+1), append(args, c.extra["gateway"]...)...))
	}
	for _, p := range c.all() {
		waitReady(t, p)
	}
	t.Logf("cluster of %d processes ready in %v", len(c.all()), time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.all() {
				t.Logf("--- %s log (tail):\n%s", p.name, tail(p.logText(), 40))
			}
		}
	})
	c.admin = c.login("admin", adminPassword)
	return c
}

// startReplica starts replica i of a service role (without waiting for
// readiness).
func (c *cluster) startReplica(role string, i int) *proc {
	c.t.Helper()
	args := append([]string{"--role", role, "--price-feed", "static"}, c.store...)
	return start(c.t, c.bin, c.dir, fmt.Sprintf("%s-%d", role, i+1), append(args, c.extra[role]...)...)
}

// urls returns the comma-separated URLs of a role's replicas.
func (c *cluster) urls(role string) string {
	var urls []string
	for _, p := range c.replicas[role] {
		urls = append(urls, p.url)
	}
	return strings.Join(urls, ",")
}

// all returns every process.
func (c *cluster) all() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []*proc
	for _, role := range serviceRoles {
		ps = append(ps, c.replicas[role]...)
	}
	return append(ps, c.gateways...)
}

// gw returns the URL of gateway i (modulo their number).
func (c *cluster) gw(i int) string { return c.gateways[i%len(c.gateways)].url }

// login logs a user in through the first gateway and returns the token.
func (c *cluster) login(name, password string) string {
	c.t.Helper()
	m := testenv.Call(c.t, "POST", c.gw(0)+"/api/v1/auth/login", "", map[string]string{"username": name, "password": password}).Want(c.t, 200)
	tok, _ := m["access_token"].(string)
	if tok == "" {
		c.t.Fatalf("login %s: %v", name, m)
	}
	return tok
}

// newUser registers name with a deposit of cash USD and returns its token.
func (c *cluster) newUser(name, cash string) string {
	c.t.Helper()
	testenv.Call(c.t, "POST", c.gw(0)+"/api/v1/auth/register", "", map[string]any{"username": name, "email": name + "@example.com",
		"password": userPassword, "first_name": "Cluster", "last_name": "Test"}).Want(c.t, 201)
	tok := c.login(name, userPassword)
	if cash != "" {
		testenv.Call(c.t, "POST", c.gw(1)+"/api/v1/balance/deposit", tok, map[string]any{"amount": cash}).Want(c.t, 201)
	}
	return tok
}

// newAsset creates an asset at price (USD) as the admin.
func (c *cluster) newAsset(id, price string) {
	c.t.Helper()
	testenv.Call(c.t, "POST", c.gw(0)+"/api/v1/admin/assets", c.admin, map[string]any{
		"asset_id": id, "name": "Cluster asset " + id, "category": "test", "price_usd": price}).Want(c.t, 201)
}

// verify runs the ledger check (GET /api/v1/admin/verify) and fails the
// test on any violation.
func (c *cluster) verify() {
	c.t.Helper()
	r := testenv.Call(c.t, "GET", c.gw(0)+"/api/v1/admin/verify", c.admin, nil)
	var rep struct {
		Users      int
		Violations []json.RawMessage
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &rep) != nil || rep.Violations == nil {
		c.t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if len(rep.Violations) > 0 {
		c.t.Fatalf("verify found %d violations: %s", len(rep.Violations), r.Body)
	}
}

// reply is an HTTP answer, read whole; err is set when there was none.
type reply struct {
	status int
	body   []byte
	err    error
}

// do sends a JSON request without failing the test (for goroutines).
func do(method, url, token string, body any, hdr ...string) reply {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return reply{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: b, err: err}
}

// field returns the string at path (keys) in a JSON object.
func field(body []byte, path ...string) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
