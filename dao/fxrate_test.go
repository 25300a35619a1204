package dao_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
)

// TestFXRates: seeding stores the rates a store lacks and keeps the
// others; a set writes the rate and its point at the next version; the
// history pages newest first within its range, with cursors of its own.
func TestFXRates(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if _, err := d.FX.Get(ctx, entity.EUR); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("rate of an empty store: %v", err)
	}
	n, err := d.FX.Seed(ctx, map[string]decimal.Decimal{"USD": dec("1"), "EUR": dec("1.08"), "GBP": dec("1.27"), "XXX": dec("2")}, t0)
	if err != nil || n != 2 {
		t.Fatalf("seed: %d %v, want 2", n, err)
	}
	if _, err := d.FX.Set(ctx, entity.EUR, dec("1.09"), t0.Add(time.Minute), "admin:root"); err != nil {
		t.Fatal(err)
	}
	// A second seed keeps the stored rates and adds the missing one.
	if n, err := d.FX.Seed(ctx, map[string]decimal.Decimal{"EUR": dec("1.5"), "JPY": dec("0.0067")}, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("second seed: %d %v, want 1", n, err)
	}
	all, err := d.FX.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, fmt.Sprintf("%s=%s v%d %s %s", r.Currency, r.Rate, r.Version, r.Source, r.At.Format("15:04")))
	}
	if s := strings.Join(got, " "); s != "EUR=1.09 v2 admin:root 12:01 GBP=1.27 v1 seed 12:00 JPY=0.0067 v1 seed 12:02" {
		t.Fatalf("rates %s", s)
	}
	// The same rate again, observed no later: nothing is written.
	if r, err := d.FX.Set(ctx, entity.EUR, dec("1.090"), t0, "feed"); err != nil || r.Version != 2 {
		t.Fatalf("same rate: %+v %v", r, err)
	}
	for i := 2; i <= 5; i++ {
		if _, err := d.FX.Set(ctx, entity.EUR, dec(fmt.Sprintf("1.1%d", i)), t0.Add(time.Duration(i)*time.Minute), "feed"); err != nil {
			t.Fatal(err)
		}
	}
	hist := func(from, to time.Time, limit int, cursor string) (string, string) {
		t.Helper()
		pts, next, err := d.FX.History(ctx, entity.EUR, from, to, limit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pts {
			out = append(out, fmt.Sprintf("%d:%s", p.Seq, p.Rate))
		}
		return strings.Join(out, " "), next
	}
	end := t0.Add(time.Hour)
	p1, c1 := hist(t0, end, 2, "")
	p2, c2 := hist(t0, end, 2, c1)
	p3, c3 := hist(t0, end, 2, c2)
	if p1 != "6:1.15 5:1.14" || p2 != "4:1.13 3:1.12" || p3 != "2:1.09 1:1.08" || c1 == "" || c2 == "" || c3 != "" {
		t.Fatalf("pages %q %q %q (last cursor %q)", p1, p2, p3, c3)
	}
	if p, _ := hist(t0.Add(2*time.Minute), t0.Add(4*time.Minute), 10, ""); p != "5:1.14 4:1.13 3:1.12" {
		t.Fatalf("range: %q", p)
	}
	if _, _, err := d.FX.History(ctx, entity.GBP, t0, end, 2, c1); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("another currency's cursor: %v", err)
	}
	if _, _, err := d.FX.History(ctx, entity.EUR, t0, end, 2, "bogus"); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("a forged cursor: %v", err)
	}
	if _, err := d.FX.Set(ctx, entity.USD, dec("1"), t0, "x"); err == nil {
		t.Fatal("a rate of USD was stored")
	}
	if _, err := d.FX.Set(ctx, entity.EUR, dec("0"), t0, "x"); err == nil {
		t.Fatal("a zero rate was stored")
	}
}

// TestFXRateConcurrentSets: concurrent sets of one rate each store their
// own version and point: the history holds every one.
func TestFXRateConcurrentSets(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.FX.Set(ctx, entity.CHF, dec(fmt.Sprintf("1.%d", i+10)), t0.Add(time.Duration(i)*time.Second), "feed")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := d.FX.Get(ctx, entity.CHF)
	if err != nil || r.Version != n {
		t.Fatalf("rate %+v %v, want version %d", r, err, n)
	}
	pts, _, err := d.FX.History(ctx, entity.CHF, t0.Add(-time.Hour), t0.Add(time.Hour), 100, "")
	if err != nil || len(pts) != n {
		t.Fatalf("%d points %v, want %d", len(pts), err, n)
	}
	seqs := map[int64]bool{}
	for _, p := range pts {
		seqs[p.Seq] = true
	}
	if len(seqs) != n {
		t.Fatalf("seqs %v", seqs)
	}
}

// TestFXRatesNeverCached: a shared cache never holds a rate (a rate moves
// money only as read from the store, with its age).
func TestFXRatesNeverCached(t *testing.T) {
	d := dao.New(nil, dao.DefaultTables)
	for _, c := range []entity.Currency{entity.EUR, entity.JPY} {
		if g, v, ok := dao.DefaultTables.CacheGroup(d.FX.Key(c)); ok {
			t.Fatalf("rate of %s cached (group %q, versioned %v)", c, g, v)
		}
	}
}
