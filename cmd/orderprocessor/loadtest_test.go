package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/loadtest"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/trading"
)

func TestLoadtestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"help", []string{"-h"}, nil, loadtestOK, "usage: orderprocessor loadtest"},
		{"unknown flag", []string{"--nope"}, nil, loadtestUsage, "flag provided but not defined: -nope"},
		{"argument", []string{"extra"}, nil, loadtestUsage, `unexpected argument "extra"`},
		{"bad mix", []string{"--mix", "buy=1,dance=2"}, nil, loadtestUsage, `unknown op "dance"`},
		{"zero concurrency", []string{"--concurrency", "0"}, nil, loadtestUsage, "--concurrency must be at least 1"},
		{"negative users", []string{"--users", "-1"}, nil, loadtestUsage, "--users must not be negative"},
		{"zero duration", []string{"--duration", "0s"}, nil, loadtestUsage, "--duration must be positive"},
		{"negative warmup", []string{"--warmup", "-1s"}, nil, loadtestUsage, "must not be negative"},
		{"bad env", nil, map[string]string{"ORDERPROCESSOR_CONCURRENCY": "many"}, loadtestUsage, `$ORDERPROCESSOR_CONCURRENCY: "many" is not an integer`},
		{"server down", []string{"--url", "http://127.0.0.1:1", "--duration", "1s"}, nil, loadtestServerErrors, "server not live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := loadtestMain(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}

func TestLoadtestRun(t *testing.T) {
	g := gateway.DefaultConfig()
	g.RateLimit = 0
	p, err := platform.Open(context.Background(), platform.Config{
		DataDir: t.TempDir(), Gateway: g, Trading: trading.DefaultConfig(), PriceFeed: "static",
		PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler)
	defer func() {
		srv.Close()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()

	file := filepath.Join(t.TempDir(), "report.json")
	t.Setenv("ORDERPROCESSOR_USERS", "3") // the environment sets flags too
	var stdout, stderr bytes.Buffer
	code := loadtestMain(context.Background(), []string{"--url", srv.URL, "--concurrency", "2", "--duration", "500ms",
		"--warmup", "0s", "--ceiling-duration", "100ms", "--asset", "btc,ETH", "--mix", "buy=1,sell=1", "--json-out", file}, &stdout, &stderr)
	if code != loadtestOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadtest.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Users != 3 || rep.Concurrency != 2 || rep.Mix != "buy=1,sell=1" || strings.Join(rep.Assets, ",") != "BTC,ETH" ||
		rep.Orders.Successes == 0 || rep.Orders.Errors != 0 || rep.Ceiling == nil {
		t.Fatalf("report %s", data)
	}
	if out := stdout.String(); !strings.Contains(out, "orders/s placed") || !strings.Contains(out, "ceiling: GET /health/live") {
		t.Errorf("stdout:\n%s", out)
	}
}
