// Command orderprocessor is the Order Processor platform: one binary with the
// subcommands serve, migrate, verify, loadtest and prefill.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: orderprocessor <command> [flags]

commands:
  serve     run the platform (gateway + user, inventory and order services)
  migrate   create the DynamoDB tables and indexes (idempotent)
  verify    check the ledger invariants of a stopped store
  loadtest  drive a running server with orders and report throughput and latency
  prefill   fill a stopped embedded store with orders (for measurements of a large store)

Every flag has an environment variable: --data-dir is ORDERPROCESSOR_DATA_DIR.
Run "orderprocessor <command> -h" for its flags.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:])
	case "migrate":
		return runMigrate(args[1:])
	case "verify":
		return runVerify(args[1:])
	case "loadtest":
		return runLoadtest(args[1:])
	case "prefill":
		return runPrefill(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "orderprocessor: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// withSignals runs a subcommand's main on the process's stdout and stderr,
// with a context that SIGINT and SIGTERM cancel.
func withSignals(args []string, main func(ctx context.Context, args []string, stdout, stderr io.Writer) int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return main(ctx, args, os.Stdout, os.Stderr)
}
