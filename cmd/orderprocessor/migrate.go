package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runMigrate creates the DynamoDB tables and indexes (on-demand billing, TTL
// on idempotency records) and waits until they are active. Idempotent.
func runMigrate(args []string) int {
	f := newEnvFlags("migrate")
	var d dynamoFlags
	d.register(f)
	var timeout time.Duration
	f.Duration(&timeout, "timeout", 10*time.Minute, "how long to wait for the tables to become active")
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "migrate:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	db, t, err := d.open(ctx, nil) // migrate reads no pages
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		return 1
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		return 1
	}
	fmt.Printf("tables ready: %s, %s, %s\n", t.Users, t.Orders, t.Inventory)
	return 0
}
