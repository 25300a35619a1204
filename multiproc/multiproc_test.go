package multiproc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store/dynamodb"
	"github.com/orderprocessor/orderprocessor/testenv"
)

const (
	jwtSecret     = "multiproc-test-secret-0123456789abcdef"
	adminPassword = "Admin-Passw0rd!"
	userPassword  = "Str0ng-Passw0rd!"
	region        = "us-east-1"
)

// endpoint returns DynamoDB Local's endpoint, skipping the test without one
// (failing it in CI).
func endpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("DYNAMODB_ENDPOINT")
	if ep == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DynamoDB Local required in CI: DYNAMODB_ENDPOINT is not set")
		}
		t.Skip("DYNAMODB_ENDPOINT not set (eval \"$(scripts/dynamodb-local start)\")")
	}
	return ep
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the orderprocessor command once for the package's tests
// and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		t0 := time.Now()
		if binDir, binErr = os.MkdirTemp("", "multiproc-bin-"); binErr != nil {
			return
		}
		binPath, binErr = buildBinary(binDir)
		t.Logf("build: %v", time.Since(t0).Round(time.Millisecond))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// buildBinary builds the orderprocessor command into dir.
func buildBinary(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "orderprocessor")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/orderprocessor")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return bin, nil
}

// proc is one running orderprocessor process.
type proc struct {
	name string
	cmd  *exec.Cmd
	url  string
	log  string // file with its stderr
	done chan struct{}
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// env is the environment of every child: the shared JWT secret, the admin
// password, and static AWS credentials for DynamoDB Local.
func childEnv() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORDERPROCESSOR_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, "ORDERPROCESSOR_JWT_SECRET="+jwtSecret, "ORDERPROCESSOR_ADMIN_PASSWORD="+adminPassword,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION="+region, "AWS_EC2_METADATA_DISABLED=true")
}

// start runs the binary with args and waits for its "listening on" line.
func start(t *testing.T, bin, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	p.cmd.Env = childEnv()
	p.cmd.Stderr = logf
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case p.url = <-urls:
	case <-p.done:
		t.Fatalf("%s exited before listening:\n%s", name, p.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within 60 s:\n%s", name, p.logText())
	}
	return p
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// stop ends the process: SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s ignored SIGTERM for 10 s; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once (a crash).
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// waitReady polls /health/ready until it answers 200.
func waitReady(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60 s (%v):\n%s", p.name, err, p.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMicroservices starts the gateway and the three services as separate
// processes on one DynamoDB and drives register -> deposit -> buy -> sell
// -> portfolio through the gateway with exact values, checks logout and the
// live stream through the gateway, then kills the order
// service: its routes answer 502 and then 503 from the open breaker, while
// the other services' routes keep working.
func TestMicroservices(t *testing.T) {
	ep := endpoint(t)
	dir := t.TempDir()
	bin := binary(t)

	prefix := fmt.Sprintf("mp%d%d-", os.Getpid(), time.Now().UnixNano()%1e6)
	t1 := time.Now()
	mig := exec.Command(bin, "migrate", "--dynamodb-endpoint", ep, "--aws-region", region, "--table-prefix", prefix)
	mig.Env = childEnv()
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	t.Cleanup(func() { dropTables(t, ep, prefix) })
	t.Logf("migrate: %v", time.Since(t1).Round(time.Millisecond))

	t2 := time.Now()
	store := []string{"--store", "dynamodb", "--dynamodb-endpoint", ep, "--aws-region", region, "--table-prefix", prefix,
		"--price-feed", "static"}
	services := map[string]*proc{}
	for _, role := range []string{"inventory", "user", "order"} {
		services[role] = start(t, bin, dir, role, append([]string{"--role", role}, store...)...)
	}
	gw := start(t, bin, dir, "gateway", append([]string{"--role", "gateway",
		"--user-url", services["user"].url, "--order-url", services["order"].url, "--inventory-url", services["inventory"].url,
		"--breaker-failures", "2", "--breaker-cooldown", "1h"}, store...)...)
	for _, p := range []*proc{services["inventory"], services["user"], services["order"], gw} {
		waitReady(t, p)
	}
	t.Logf("4 processes ready: %v", time.Since(t2).Round(time.Millisecond))
	defer func() {
		if t.Failed() {
			for _, p := range []*proc{gw, services["user"], services["order"], services["inventory"]} {
				t.Logf("--- %s log:\n%s", p.name, p.logText())
			}
		}
	}()

	t3 := time.Now()
	api := gw.url
	if m := testenv.Call(t, "GET", api+"/health", "", nil).Want(t, 200); m["service"] != "gateway" {
		t.Fatalf("gateway health %v", m)
	}
	if m := testenv.Call(t, "GET", services["order"].url+"/health", "", nil).Want(t, 200); m["service"] != "order" {
		t.Fatalf("order health %v", m)
	}
	login := func(name, password string) string {
		t.Helper()
		m := testenv.Call(t, "POST", api+"/api/v1/auth/login", "", map[string]string{"username": name, "password": password}).Want(t, 200)
		tok, _ := m["access_token"].(string)
		if tok == "" {
			t.Fatalf("login %v", m)
		}
		return tok
	}
	admin := login("admin", adminPassword)
	testenv.Call(t, "POST", api+"/api/v1/admin/assets", admin, map[string]any{
		"asset_id": "MPA1", "name": "Multiproc asset", "category": "test", "price_usd": "100"}).Want(t, 201)

	if m := testenv.Call(t, "POST", api+"/api/v1/auth/register", "", map[string]any{"username": "mp_user_1", "email": "mp1@example.com",
		"password": userPassword, "first_name": "Multi", "last_name": "Proc"}).Want(t, 201); m["message"] != "User registered successfully" {
		t.Fatalf("register %v", m)
	}
	tok := login("mp_user_1", userPassword)
	if m := testenv.Call(t, "POST", api+"/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"}).Want(t, 201); m["message"] != "Successfully deposited $1000.00" {
		t.Fatalf("deposit %v", m)
	}
	buy := testenv.Call(t, "POST", api+"/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "mpa1", "quantity": "2"}).Want(t, 201)
	if d, _ := buy["data"].(map[string]any); d["status"] != "completed" || d["total_amount"] != "200.00" || d["asset_id"] != "MPA1" {
		t.Fatalf("buy %v", buy)
	}
	sell := testenv.Call(t, "POST", api+"/api/v1/orders", tok, map[string]any{"order_type": "market_sell", "asset_id": "MPA1", "quantity": "0.5"}).Want(t, 201)
	if d, _ := sell["data"].(map[string]any); d["status"] != "completed" || d["total_amount"] != "50.00" {
		t.Fatalf("sell %v", sell)
	}
	testenv.Call(t, "PUT", api+"/api/v1/admin/assets/MPA1/price", admin, map[string]any{"price_usd": "150"}).Want(t, 200)
	p := testenv.Call(t, "GET", api+"/api/v1/portfolio", tok, nil).Want(t, 200)
	assets, _ := p["assets"].([]any)
	if len(assets) != 1 || p["total_value"] != "1075.00" {
		t.Fatalf("portfolio %v", p)
	}
	a := assets[0].(map[string]any)
	for k, v := range map[string]string{"asset_id": "MPA1", "quantity": "1.5", "current_price": "150.00", "market_value": "225.00",
		"percentage": "20.93", "average_cost": "100.00", "unrealized_pnl": "75.00"} {
		if a[k] != v {
			t.Errorf("portfolio %s = %v, want %s", k, a[k], v)
		}
	}
	if b := testenv.Call(t, "GET", api+"/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "850.00" || b["available_balance"] != "850.00" || b["held_balance"] != "0.00" {
		t.Fatalf("balance %v", b)
	}
	orders := testenv.Call(t, "GET", api+"/api/v1/orders", tok, nil).Want(t, 200)
	if list, _ := orders["data"].([]any); len(list) != 2 {
		t.Fatalf("orders %v", orders)
	}
	// A rate set in the inventory service is the one the user and order
	// services settle at: 0.5 at 150 USD, 1 EUR = 1.25 USD, costs 60.00 EUR.
	testenv.Call(t, "PUT", api+"/api/v1/admin/fx/rates/EUR-USD", admin, map[string]any{"rate": "1.25"}).Want(t, 200)
	if r := testenv.Call(t, "GET", api+"/api/v1/fx/rates", "", nil).Want(t, 200); !strings.Contains(fmt.Sprint(r["rates"]), "pair:EUR-USD rate:1.25 source:admin:admin") {
		t.Fatalf("rates %v", r)
	}
	testenv.Call(t, "POST", api+"/api/v1/balance/deposit", tok, map[string]any{"amount": "100", "currency": "EUR"}).Want(t, 201)
	eur := testenv.Call(t, "POST", api+"/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "MPA1", "quantity": "0.5", "currency": "EUR"}).Want(t, 201)
	if d, _ := eur["data"].(map[string]any); d["status"] != "completed" || d["total_amount"] != "60.00" || d["fx_rate"] != "1.25" || d["currency"] != "EUR" {
		t.Fatalf("EUR buy %v", eur)
	}
	if b := testenv.Call(t, "GET", api+"/api/v1/balance?currency=EUR", tok, nil).Want(t, 200); b["current_balance"] != "40.00" {
		t.Fatalf("EUR balance %v", b)
	}
	// Logout in the user service revokes the token at the gateway.
	testenv.Call(t, "POST", api+"/api/v1/auth/logout", tok, map[string]any{}).Want(t, 200)
	if r := testenv.Call(t, "GET", api+"/api/v1/orders", tok, nil); r.Status != 401 {
		t.Fatalf("revoked token: %d %s", r.Status, r.Body)
	}
	// ... and at every service, for a request that bypasses the gateway.
	for role, path := range map[string]string{"order": "/api/v1/orders", "user": "/api/v1/balance", "inventory": "/api/v1/admin/assets/MPA1/price"} {
		method, body := "GET", any(nil)
		if role == "inventory" {
			method, body = "PUT", map[string]any{"price_usd": "1"}
		}
		if r := testenv.Call(t, method, services[role].url+path, tok, body); r.Status != 401 || !strings.Contains(string(r.Body), `"message":"token revoked"`) {
			t.Fatalf("revoked token sent straight to the %s service: %d %s", role, r.Status, r.Body)
		}
	}
	tok = login("mp_user_1", userPassword)

	// The live stream (order service) flows through the gateway: an order
	// placed after the stream opened arrives as an event.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", api+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := bufio.NewReader(resp.Body)
	if line, err := events.ReadString('\n'); err != nil || line != "retry: 2000\n" {
		t.Fatalf("stream starts with %q, %v", line, err)
	}
	buy2 := testenv.Call(t, "POST", api+"/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "MPA1", "quantity": "0.5"}).Want(t, 201)
	orderID, _ := buy2["data"].(map[string]any)["order_id"].(string)
	for {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the order event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"order_id":"`+orderID+`"`) && strings.Contains(line, `"status":"completed"`) {
			break
		}
	}
	resp.Body.Close()
	t.Logf("flow through the gateway: %v", time.Since(t3).Round(time.Millisecond))

	// An admin deactivates the user (user service): the other processes
	// refuse the user's tokens within the account cache's TTL (2 s).
	deactivated := time.Now()
	testenv.Call(t, "POST", api+"/api/v1/admin/users/mp_user_1/deactivate", admin, nil).Want(t, 200)
	waitUntil := func(what string, url string, ok func(testenv.Reply) bool) time.Duration {
		t.Helper()
		for since := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			r := testenv.Call(t, "GET", url, tok, nil)
			if ok(r) {
				return time.Since(since)
			}
			if time.Since(since) > 2*auth.DefaultAccountTTL+2*time.Second {
				t.Fatalf("%s: still %d %s after %v", what, r.Status, r.Body, time.Since(since))
			}
		}
	}
	refused := func(r testenv.Reply) bool {
		return r.Status == 401 && strings.Contains(string(r.Body), `"message":"account deactivated"`)
	}
	waitUntil("order service", services["order"].url+"/api/v1/orders", refused)
	waitUntil("gateway", api+"/api/v1/orders", refused)
	t.Logf("deactivation seen by the order service and the gateway within %v", time.Since(deactivated).Round(time.Millisecond))
	if r := testenv.Call(t, "POST", api+"/api/v1/auth/login", "", map[string]string{"username": "mp_user_1", "password": userPassword}); r.Status != 403 {
		t.Fatalf("login of a deactivated user: %d %s", r.Status, r.Body)
	}
	testenv.Call(t, "POST", api+"/api/v1/admin/users/mp_user_1/activate", admin, nil).Want(t, 200)
	old := tok
	tok = login("mp_user_1", userPassword)
	waitUntil("gateway after reactivation", api+"/api/v1/orders", func(r testenv.Reply) bool { return r.Status == 200 })
	if r := testenv.Call(t, "GET", services["order"].url+"/api/v1/orders", old, nil); r.Status != 401 || !strings.Contains(string(r.Body), `"message":"token revoked"`) {
		t.Fatalf("token issued before the deactivation, at the order service after reactivation: %d %s", r.Status, r.Body)
	}

	// The order service crashes.
	services["order"].kill()
	for i, want := range []struct {
		status int
		code   string
	}{{502, "BAD_GATEWAY"}, {502, "BAD_GATEWAY"}, {503, "SERVICE_UNAVAILABLE"}, {503, "SERVICE_UNAVAILABLE"}} {
		r := testenv.Call(t, "GET", api+"/api/v1/orders", tok, nil)
		var e struct{ Error, Code string }
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != want.status || e.Code != want.code || e.Error != want.code {
			t.Fatalf("order route %d with the order service down: %d %s, want %d %s", i, r.Status, r.Body, want.status, want.code)
		}
	}
	if b := testenv.Call(t, "GET", api+"/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "775.00" {
		t.Fatalf("balance with the order service down: %v", b)
	}
	if m := testenv.Call(t, "GET", api+"/api/v1/inventory/assets/MPA1", "", nil).Want(t, 200); m["data"].(map[string]any)["price_usd"] != 150.0 {
		t.Fatalf("asset with the order service down: %v", m)
	}
}

// dropTables deletes the test's tables from DynamoDB Local.
func dropTables(t *testing.T, ep, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := awsddb.New(awsddb.Options{Region: region, BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	db, err := dynamodb.Open(ctx, dynamodb.Config{Client: client, TablePrefix: prefix, Schemas: dao.DefaultTables.Schemas()})
	if err != nil {
		t.Logf("drop tables: %v", err)
		return
	}
	defer db.Close()
	if err := db.DeleteTables(ctx); err != nil {
		t.Logf("drop tables: %v", err)
	}
}
