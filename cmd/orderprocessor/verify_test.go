package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/trading"
)

// makeStore writes one user with a deposit and a market buy into a new
// store in a temp dir and closes it; corrupt, when set, then adds 5 to the
// user's current balance (and nothing else).
func makeStore(t *testing.T, corrupt bool) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	db, err := embedded.Open(dir, dao.DefaultTables.Schemas(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	d := trading.NewDAOs(db, dao.DefaultTables)
	svc := trading.New(d, trading.DefaultConfig(), trading.Options{Now: func() time.Time { return now }})
	if err := d.Assets.Create(ctx, &entity.Asset{AssetID: "BTC", Name: "Bitcoin", PriceUSD: decimal.FromInt(50000), IsActive: true}); err != nil {
		t.Fatal(err)
	}
	u := &entity.User{Username: "alice", Email: "alice@example.com", Role: entity.RoleCustomer, IsActive: true, Version: 1}
	if err := d.Users.Create(ctx, u, d.Balances.CreateWrite("alice", entity.USD, now)); err != nil {
		t.Fatal(err)
	}
	amount, qty := decimal.FromInt(1000), decimal.MustParse("0.01")
	if _, _, err := svc.Deposit(ctx, "alice", entity.DepositRequest{Amount: &amount}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.PlaceOrder(ctx, "alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "BTC", Quantity: &qty}, "", nil); err != nil {
		t.Fatal(err)
	}
	if corrupt {
		k := store.Key{Table: "users", PK: "USER#alice", SK: "BALANCE#USD"}
		if _, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("current", store.MustN("5"))}}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestVerifyCommand(t *testing.T) {
	clean, corrupt := makeStore(t, false), makeStore(t, true)
	tests := []struct {
		name      string
		args      []string
		env       string // ORDERPROCESSOR_DATA_DIR
		code      int
		stdout    string // exact
		stderrHas string
	}{
		{name: "clean", args: []string{"--data-dir", clean}, code: 0,
			stdout: "verified " + clean + ": 1 users, 1 balances, 2 ledger entries, 1 holdings, 1 asset movements, 1 orders\n" +
				"OK: every invariant holds\n"},
		{name: "clean from the environment", env: clean, code: 0,
			stdout: "verified " + clean + ": 1 users, 1 balances, 2 ledger entries, 1 holdings, 1 asset movements, 1 orders\n" +
				"OK: every invariant holds\n"},
		{name: "corrupted", args: []string{"--data-dir", corrupt}, code: 1,
			stdout: "verified " + corrupt + ": 1 users, 1 balances, 2 ledger entries, 1 holdings, 1 asset movements, 1 orders\n" +
				"FAILED: 2 violations\n" +
				"  alice: balance USD: current_balance 505.00 != 500.00, the sum of its completed ledger entries\n" +
				"  alice: balance USD: stored available 500.00 != current_balance - held_balance = 505.00\n"},
		{name: "help", args: []string{"-h"}, code: 0, stderrHas: "usage: orderprocessor verify"},
		{name: "unknown flag", args: []string{"--bogus"}, code: 2, stderrHas: "flag provided but not defined: -bogus"},
		{name: "extra argument", args: []string{"--data-dir", clean, "now"}, code: 2, stderrHas: `unexpected argument "now"`},
		{name: "missing directory", args: []string{"--data-dir", filepath.Join(clean, "nope")}, code: 2, stderrHas: "no store at"},
		{name: "empty directory", args: []string{"--data-dir", t.TempDir()}, code: 2, stderrHas: "no store at"},
		{name: "bad json env", args: []string{"--data-dir", clean}, code: 2, stderrHas: "$ORDERPROCESSOR_JSON: \"maybe\" is not a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("ORDERPROCESSOR_DATA_DIR", tc.env)
			}
			if tc.name == "bad json env" {
				t.Setenv("ORDERPROCESSOR_JSON", "maybe")
			}
			var stdout, stderr bytes.Buffer
			code := verifyMain(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.stdout != "" && stdout.String() != tc.stdout {
				t.Fatalf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderrHas) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), tc.stderrHas)
			}
		})
	}
}

func TestRunVerifyExitCodes(t *testing.T) {
	clean, corrupt := makeStore(t, false), makeStore(t, true)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--data-dir", clean}, 0},
		{[]string{"--data-dir", corrupt}, 1},
		{[]string{"--no-such-flag"}, 2},
	} {
		if got := runVerify(tc.args); got != tc.want {
			t.Errorf("runVerify(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}

func TestVerifyJSON(t *testing.T) {
	dir := makeStore(t, true)
	var stdout, stderr bytes.Buffer
	if code := verifyMain(context.Background(), []string{"--data-dir", dir, "--json"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	want := map[string]any{
		"ok": false, "users": 1.0, "balances": 1.0, "transactions": 2.0, "holdings": 1.0, "movements": 1.0, "orders": 1.0, "volume_buckets": 0.0, "daily_buckets": 0.0,
		"violations": []any{
			map[string]any{"username": "alice", "subject": "balance USD", "problem": "current_balance 505.00 != 500.00, the sum of its completed ledger entries"},
			map[string]any{"username": "alice", "subject": "balance USD", "problem": "stored available 500.00 != current_balance - held_balance = 505.00"},
		},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("JSON = %v\nwant %v", got, want)
	}
}

// TestVerifyLockedStore: a store open elsewhere (a running server) is
// reported clearly with exit 2, whether this process or another holds it.
func TestVerifyLockedStore(t *testing.T) {
	t.Run("this process", func(t *testing.T) {
		dir := makeStore(t, false)
		db, err := embedded.Open(dir, dao.DefaultTables.Schemas(), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var stdout, stderr bytes.Buffer
		if code := verifyMain(context.Background(), []string{"--data-dir", dir}, &stdout, &stderr); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		if !strings.Contains(stderr.String(), "is in use by another process") {
			t.Fatalf("stderr = %q", stderr.String())
		}
	})
	t.Run("another process", func(t *testing.T) {
		dir := makeStore(t, false)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldStore$")
		cmd.Env = append(os.Environ(), "VERIFY_TEST_HOLD_STORE="+dir)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = stdin.Close()
			_ = cmd.Wait()
		}()
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "holding\n" {
			t.Fatalf("helper said %q, %v", line, err)
		}
		var stdout, stderr bytes.Buffer
		if code := verifyMain(context.Background(), []string{"--data-dir", dir}, &stdout, &stderr); code != 2 {
			t.Fatalf("exit %d, want 2; stderr %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "is in use by another process") {
			t.Fatalf("stderr = %q", stderr.String())
		}
	})
}

// TestHelperHoldStore is run as a subprocess by TestVerifyLockedStore: it
// holds the store open until its stdin closes.
func TestHelperHoldStore(t *testing.T) {
	dir := os.Getenv("VERIFY_TEST_HOLD_STORE")
	if dir == "" {
		t.Skip("helper process only")
	}
	db, err := embedded.Open(dir, dao.DefaultTables.Schemas(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fmt.Println("holding")
	_, _ = io.Copy(io.Discard, os.Stdin)
}
