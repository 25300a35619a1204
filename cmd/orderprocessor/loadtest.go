package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/loadtest"
)

// Exit codes of the loadtest subcommand.
const (
	loadtestOK           = 0 // the run completed without 5xx answers or transport errors
	loadtestServerErrors = 1 // the run completed with 5xx answers or requests without an answer, or the setup failed
	loadtestUsage        = 2 // bad flags
)

// runLoadtest is the loadtest subcommand: it runs package loadtest against a
// running server, prints one progress line a second on stderr and the report
// on stdout, and writes the report as JSON to --json FILE ("-": stdout).
// It returns 0 when the run completed with no 5xx answer and no request left
// unanswered, 1 otherwise or when the setup failed, 2 on usage errors.
// Interrupting it (SIGINT) stops the load and reports what ran.
func runLoadtest(args []string) int {
	return withSignals(args, loadtestMain)
}

func loadtestMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newEnvFlags("loadtest")
	f.SetOutput(stderr)
	var (
		cfg                                   loadtest.Config
		mix, assets, jsonFile                 string
		duration, warmup, ceiling, reqTimeout time.Duration
	)
	f.String(&cfg.URL, "url", loadtest.DefaultURL, "base URL of the running server")
	f.Int(&cfg.Users, "users", 0, "users to register and fund (0: one per client)")
	f.Int(&cfg.Concurrency, "concurrency", loadtest.DefaultConcurrency, "concurrent keep-alive clients")
	f.Duration(&duration, "duration", loadtest.DefaultDuration, "measured period")
	f.Duration(&warmup, "warmup", loadtest.DefaultWarmup, "unmeasured load before the measured period")
	f.Duration(&ceiling, "ceiling-duration", loadtest.DefaultCeilingDuration, "period of the GET /health/live ceiling measurement (0 skips it)")
	f.String(&mix, "mix", loadtest.DefaultMix.String(), "operation weights among buy, sell, limit and read, e.g. buy=45,sell=45,read=10")
	f.String(&assets, "asset", "BTC", "asset traded, or a comma-separated list")
	f.String(&cfg.Quantity, "quantity", loadtest.DefaultQuantity, "quantity of every order")
	f.String(&cfg.Deposit, "deposit", loadtest.DefaultDeposit, "USD deposited for each user (within the server's daily deposit limit)")
	f.Duration(&reqTimeout, "request-timeout", 30*time.Second, "timeout of each request")
	f.String(&jsonFile, "json-out", "", "also write the report as JSON to this file (- for stdout)")
	f.Int(&cfg.Batch, "batch", 0, "send buys and sells as POST /api/v1/orders/batch of this many orders (2-100; 0: single orders)")
	f.Usage = func() {
		fmt.Fprintln(stderr, "usage: orderprocessor loadtest [flags]")
		fmt.Fprintln(stderr, "Registers and funds users on a running server, drives orders from concurrent clients and reports")
		fmt.Fprintln(stderr, "orders/s, errors by status and latency; then measures GET /health/live for the plain-HTTP ceiling.")
		fmt.Fprintln(stderr, "Start the server with --rate-limit 0 --register-limit 0. Exit 0 when no 5xx and no unanswered request, 1 otherwise, 2 on usage errors.")
		f.PrintDefaults()
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return loadtestOK
		}
		fmt.Fprintln(stderr, "orderprocessor loadtest:", err)
		return loadtestUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(stderr, "orderprocessor loadtest: unexpected argument %q\n", f.Arg(0))
		return loadtestUsage
	}
	m, err := loadtest.ParseMix(mix)
	if err != nil {
		fmt.Fprintln(stderr, "orderprocessor loadtest:", err)
		return loadtestUsage
	}
	switch {
	case cfg.Concurrency < 1:
		fmt.Fprintln(stderr, "orderprocessor loadtest: --concurrency must be at least 1")
		return loadtestUsage
	case cfg.Users < 0:
		fmt.Fprintln(stderr, "orderprocessor loadtest: --users must not be negative")
		return loadtestUsage
	case duration <= 0:
		fmt.Fprintln(stderr, "orderprocessor loadtest: --duration must be positive")
		return loadtestUsage
	case warmup < 0 || ceiling < 0 || reqTimeout <= 0:
		fmt.Fprintln(stderr, "orderprocessor loadtest: --warmup and --ceiling-duration must not be negative, --request-timeout must be positive")
		return loadtestUsage
	}
	cfg.Mix, cfg.Duration, cfg.Warmup, cfg.CeilingDuration, cfg.Timeout = m, duration, warmup, ceiling, reqTimeout
	for a := range strings.SplitSeq(assets, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Assets = append(cfg.Assets, a)
		}
	}
	cfg.Progress = stderr

	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "orderprocessor loadtest:", err)
		return loadtestServerErrors
	}
	text := stdout
	if jsonFile == "-" {
		text = stderr // stdout is the JSON's
	}
	if err := rep.WriteText(text); err != nil {
		fmt.Fprintln(stderr, "orderprocessor loadtest:", err)
		return loadtestServerErrors
	}
	if jsonFile != "" {
		if err := writeReportFile(jsonFile, rep, stdout); err != nil {
			fmt.Fprintln(stderr, "orderprocessor loadtest:", err)
			return loadtestServerErrors
		}
	}
	if n := rep.ServerErrors(); n > 0 {
		fmt.Fprintf(stderr, "orderprocessor loadtest: %d requests answered 5xx or not at all\n", n)
		return loadtestServerErrors
	}
	return loadtestOK
}

func writeReportFile(name string, rep *loadtest.Report, stdout io.Writer) error {
	if name == "-" {
		return rep.WriteJSON(stdout)
	}
	fh, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	if err := rep.WriteJSON(fh); err != nil {
		_ = fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}
