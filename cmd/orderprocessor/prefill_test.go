package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/platform"
)

func TestPrefill(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := prefillMain(context.Background(), []string{"--data-dir", dir, "--orders", "300", "--users", "7", "--concurrency", "8"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "prefill: 300 orders placed") || !strings.Contains(out.String(), "7 users funded") {
		t.Fatalf("output:\n%s", out.String())
	}
	// The store has the orders, and verify finds every invariant holding.
	var vout, verr bytes.Buffer
	if code := verifyMain(context.Background(), []string{"--data-dir", dir}, &vout, &verr); code != verifyOK {
		t.Fatalf("verify exit %d:\n%s%s", code, vout.String(), verr.String())
	}
	p, err := platform.Open(context.Background(), platform.Config{DataDir: dir, PriceFeed: "static"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	orders, _, err := p.DAOs.Orders.ListByUser(context.Background(), "prefill000003", dao.OrderFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// 300 orders over 7 users in turn: users 0..5 get 43, user 6 gets 42.
	if len(orders) != 43 {
		t.Fatalf("prefill000003 has %d orders, want 43", len(orders))
	}
	for _, o := range orders {
		if o.Status != entity.StatusCompleted || o.AssetID != "DOGE" || o.Quantity.String() != "1" {
			t.Fatalf("order %+v", o)
		}
	}
}

func TestPrefillUsage(t *testing.T) {
	for _, args := range [][]string{{"--orders", "0"}, {"--quantity", "-1"}, {"extra"}, {"--users", "0"}} {
		var out, errOut bytes.Buffer
		if code := prefillMain(context.Background(), append([]string{"--data-dir", t.TempDir()}, args...), &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}
