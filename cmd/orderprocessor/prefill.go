package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/trading"
)

// runPrefill is the prefill subcommand: it fills a stopped embedded store
// with orders, so that the throughput of a large store can be measured
// (docs/performance.md). It places real market buys through the trading
// layer (every order with its ledger entry, holding and balance changes),
// in-process, from --concurrency goroutines, for --users users it creates
// (without a password: they cannot log in).
func runPrefill(args []string) int {
	return withSignals(args, prefillMain)
}

func prefillMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newEnvFlags("prefill")
	fs.SetOutput(stderr)
	var (
		dataDir, asset, qty string
		orders, users, conc int
	)
	fs.String(&dataDir, "data-dir", "./data", "directory of the embedded store (created if needed; no server may be running on it)")
	fs.Int(&orders, "orders", 100000, "market buys to place")
	fs.Int(&users, "users", 1000, "users to create and spread the orders over")
	fs.Int(&conc, "concurrency", 32, "concurrent callers of the trading layer")
	fs.String(&asset, "asset", "DOGE", "asset bought")
	fs.String(&qty, "quantity", "1", "quantity of every order")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: orderprocessor prefill --data-dir DIR --orders N [--users U] [--concurrency C]")
		fmt.Fprintln(stderr, "Fills a stopped embedded store with market buys (for measurements of a large store).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "orderprocessor prefill: %v\n", err)
		return 2
	}
	q, err := decimal.Parse(qty)
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case err != nil || !q.IsPositive():
		err = fmt.Errorf("--quantity %q: want a positive decimal", qty)
	case orders < 1 || users < 1 || users > 100000 || conc < 1 || conc > 1024:
		err = errors.New("--orders >= 1, --users 1..100000 and --concurrency 1..1024")
	}
	if err != nil {
		fmt.Fprintf(stderr, "orderprocessor prefill: %v\n", err)
		return 2
	}
	quiet := slog.New(slog.DiscardHandler)
	p, err := platform.Open(ctx, platform.Config{DataDir: dataDir, PriceFeed: "static", Logger: quiet,
		Trading: trading.Config{}})
	if err != nil {
		fmt.Fprintf(stderr, "orderprocessor prefill: %v\n", err)
		return 1
	}
	defer p.Close()
	if err := prefill(ctx, p, prefillPlan{orders: orders, users: users, conc: conc, asset: asset, qty: q}, stdout); err != nil {
		fmt.Fprintf(stderr, "orderprocessor prefill: %v\n", err)
		return 1
	}
	return 0
}

type prefillPlan struct {
	orders, users, conc int
	asset               string
	qty                 decimal.Decimal
}

func prefill(ctx context.Context, p *platform.Platform, plan prefillPlan, out io.Writer) error {
	d, s := p.DAOs, p.Trading
	price, err := d.Assets.Get(ctx, plan.asset)
	if err != nil {
		return fmt.Errorf("asset %s: %w", plan.asset, err)
	}
	perUser := (plan.orders + plan.users - 1) / plan.users
	cash := price.PriceUSD.Mul(plan.qty).Mul(decimal.FromInt(int64(perUser))).Mul(decimal.MustParse("1.1")).Round(2, decimal.Up)
	start := time.Now()
	names := make([]string, plan.users)
	for i := range names {
		names[i] = fmt.Sprintf("prefill%06d", i)
		now := s.Now()
		u := &entity.User{Username: names[i], Email: names[i] + "@prefill.invalid", FirstName: "Pre", LastName: "Fill",
			Role: entity.RoleCustomer, IsActive: true, CreatedAt: entity.At(now), UpdatedAt: entity.At(now), Version: 1}
		if err := d.Users.Create(ctx, u, d.Balances.CreateWrite(names[i], entity.USD, now)); err != nil {
			return fmt.Errorf("user %s: %w", names[i], err)
		}
		for left := cash; left.IsPositive(); {
			amt := decimal.Min(left, decimal.FromInt(1_000_000))
			if _, _, err := s.Deposit(ctx, names[i], entity.DepositRequest{Amount: &amt}, nil); err != nil {
				return fmt.Errorf("deposit for %s: %w", names[i], err)
			}
			left = left.Sub(amt)
		}
	}
	fmt.Fprintf(out, "prefill: %d users funded with %s USD each in %s\n", plan.users, cash, time.Since(start).Round(time.Millisecond))

	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n := done.Load()
				fmt.Fprintf(out, "prefill: %d/%d orders, %.0f orders/s\n", n, plan.orders, float64(n-last)/now.Sub(lastAt).Seconds())
				last, lastAt = n, now
			}
		}
	}()
	placeStart := time.Now()
	for range plan.conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(plan.orders) {
					return
				}
				req := entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: plan.asset, Quantity: &plan.qty}
				if _, _, err := s.PlaceOrder(ctx, names[i%int64(plan.users)], req, "", nil); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	n := done.Load()
	el := time.Since(placeStart)
	fmt.Fprintf(out, "prefill: %d orders placed in %s (%.0f orders/s)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return firstErr
}
