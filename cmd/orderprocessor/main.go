// Command orderprocessor is the Order Processor platform: one binary with the
// subcommands serve, migrate, verify and loadtest.
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch args[0] {
	case "serve":
		fmt.Println("orderprocessor serve: not yet: the services arrive with the platform issue.")
		return 0
	case "-h", "--help", "help":
		fmt.Println("usage: orderprocessor <serve|migrate|verify|loadtest> [flags]")
		return 0
	default:
		fmt.Fprintf(os.Stderr, "orderprocessor: unknown command %q\n", args[0])
		return 2
	}
}
