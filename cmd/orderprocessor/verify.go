package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/verify"
)

// Exit codes of the verify subcommand.
const (
	verifyOK         = 0 // every invariant holds
	verifyViolations = 1 // at least one violation (reported)
	verifyError      = 2 // bad usage, or the store could not be opened or read
)

// runVerify is the verify subcommand: it opens the embedded store in
// --data-dir, checks every ledger invariant (package verify) and prints a
// report on stdout (text, or JSON with --json). It returns 0 when all hold,
// 1 with violations, 2 on usage errors and when the store cannot be opened
// (missing, or locked by a running server) or read.
func runVerify(args []string) int {
	return withSignals(args, verifyMain)
}

func verifyMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newEnvFlags("verify")
	fs.SetOutput(stderr)
	var (
		dataDir, url string
		asJSON       bool
	)
	fs.String(&dataDir, "data-dir", "./data", "directory of the embedded store")
	fs.String(&url, "url", "", "verify a running server instead (GET /api/v1/admin/verify as admin, with $ORDERPROCESSOR_ADMIN_PASSWORD)")
	fs.Bool(&asJSON, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: orderprocessor verify [--data-dir DIR | --url URL] [--json]")
		fmt.Fprintln(stderr, "Checks every ledger invariant of the store; exit 0 when all hold, 1 with violations, 2 on errors.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return verifyOK
		}
		fmt.Fprintf(stderr, "orderprocessor verify: %v\n", err)
		return verifyError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderprocessor verify: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return verifyError
	}
	if url != "" {
		rep, err := verifyRemote(ctx, url, os.Getenv("ORDERPROCESSOR_ADMIN_PASSWORD"))
		if err != nil {
			fmt.Fprintf(stderr, "orderprocessor verify: %v\n", err)
			return verifyError
		}
		return reportVerify(stdout, stderr, url, rep, asJSON)
	}
	// Opening creates a store; verifying a store that is not there is an error.
	if entries, err := os.ReadDir(dataDir); err != nil || len(entries) == 0 {
		fmt.Fprintf(stderr, "orderprocessor verify: no store at %s\n", dataDir)
		return verifyError
	}
	tables := dao.DefaultTables
	// Pebble's own messages are noise here; errors come back from Open.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := embedded.Open(dataDir, tables.Schemas(), embedded.Options{Logger: quiet})
	if err != nil {
		if isLocked(err) {
			fmt.Fprintf(stderr, "orderprocessor verify: the store in %s is in use by another process (a running server?); "+
				"stop it first, or verify through the running server\n", dataDir)
		} else {
			fmt.Fprintf(stderr, "orderprocessor verify: open store: %v\n", err)
		}
		return verifyError
	}
	defer func() {
		if err := db.Close(); err != nil {
			fmt.Fprintf(stderr, "orderprocessor verify: close store: %v\n", err)
		}
	}()

	rep, err := verify.Run(ctx, dao.New(db, tables))
	if err != nil {
		fmt.Fprintf(stderr, "orderprocessor verify: %v\n", err)
		return verifyError
	}
	return reportVerify(stdout, stderr, dataDir, rep, asJSON)
}

// reportVerify prints the report of the store at where and returns the exit code.
func reportVerify(stdout, stderr io.Writer, where string, rep verify.Report, asJSON bool) int {
	if asJSON {
		out := struct {
			OK bool `json:"ok"`
			verify.Report
		}{rep.OK(), rep}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "orderprocessor verify: %v\n", err)
			return verifyError
		}
	} else {
		printReport(stdout, where, rep)
	}
	if !rep.OK() {
		return verifyViolations
	}
	return verifyOK
}

// printReport writes the human report: counts, then one line per violation.
func printReport(w io.Writer, dir string, rep verify.Report) {
	fmt.Fprintf(w, "verified %s: %d users, %d balances, %d ledger entries, %d holdings, %d asset movements, %d orders\n",
		dir, rep.Users, rep.Balances, rep.Transactions, rep.Holdings, rep.Movements, rep.Orders)
	if rep.OK() {
		fmt.Fprintln(w, "OK: every invariant holds")
		return
	}
	fmt.Fprintf(w, "FAILED: %d violations\n", len(rep.Violations))
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "  %s\n", v)
	}
}

// isLocked reports whether err says that another process (or this one) holds
// the store's lock file.
func isLocked(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || strings.Contains(err.Error(), "lock held by current process")
}
