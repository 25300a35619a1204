package platform

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/lease"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/trading"
)

// The names of the platform's lease and group in the store (dao.LeaseDAO).
const (
	// PriceFeedLease is held by the one inventory replica that runs the
	// price feed.
	PriceFeedLease = "price-feed"
	// FXFeedLease is held by the one inventory replica that runs the
	// exchange-rate feed.
	FXFeedLease = "fx-feed"
	// EngineGroup is the group of the order replicas, which share the
	// trigger engine's sweeps by asset.
	EngineGroup = "order-engine"
	// AnalyticsLease is held by the one process with a trigger engine
	// (RoleAll or RoleOrder) that runs the analytics job (runAnalytics).
	AnalyticsLease = "analytics"
)

// MinLeaseTTL is the shortest Config.LeaseTTL.
const MinLeaseTTL = 100 * time.Millisecond

// leaseOptions are the timings of the platform's leases: Config.LeaseTTL,
// renewed every third of it, on the wall clock (not Config.Now: the terms
// are real time between processes).
func (cfg Config) leaseOptions(log *slog.Logger) lease.Options {
	return lease.Options{TTL: cfg.LeaseTTL, Now: time.Now, Logger: log}
}

// runFeed applies the price feed's ticks every interval until ctx is done.
// RoleAll runs it for good. A service role runs it only while it holds
// PriceFeedLease, so that one inventory replica writes prices at a time,
// from a first tick as soon as it takes the lease; its price points carry
// the holder's name (dao.WithPriceWriter).
func (p *Platform) runFeed(ctx context.Context, cfg Config, leases *dao.LeaseDAO, feed pricing.Feed, src pricing.Source) {
	interval := cfg.priceInterval()
	if cfg.role() == RoleAll {
		pricing.Run(ctx, feed, src, interval, p.log)
		return
	}
	l := lease.New(leases, PriceFeedLease, p.Member, cfg.leaseOptions(p.log))
	l.Run(ctx, func(ctx context.Context) {
		ctx = dao.WithPriceWriter(ctx, l.Holder())
		// Prices resume at once on a takeover (Run polls an http feed at
		// start itself).
		if !pricing.PollsAtStart(feed) {
			pricing.Step(ctx, feed, src, p.log)
		}
		pricing.Run(ctx, feed, src, interval, p.log)
	})
}

// runFXFeed is runFeed for the exchange-rate feed: its ticks are stored
// rates (src, the inventory service's RateSource), every
// Config.FXInterval, under FXFeedLease in a service role; the rates it
// stores name the lease holder as their source.
func (p *Platform) runFXFeed(ctx context.Context, cfg Config, leases *dao.LeaseDAO, feed pricing.Feed, src pricing.Source) {
	interval := cfg.fxInterval()
	log := p.log.With("feed", "fx") // the loop's warnings name the rate feed
	if cfg.role() == RoleAll {
		pricing.Run(ctx, feed, src, interval, log)
		return
	}
	l := lease.New(leases, FXFeedLease, p.Member, cfg.leaseOptions(p.log))
	l.Run(ctx, func(ctx context.Context) {
		ctx = dao.WithPriceWriter(ctx, l.Holder())
		if !pricing.PollsAtStart(feed) {
			pricing.Step(ctx, feed, src, log)
		}
		pricing.Run(ctx, feed, src, interval, log)
	})
}

// shardEngine makes a service role's engine sweep only the assets that fall
// to this process among the live order replicas (EngineGroup). It joins the
// group before it returns, so that the engine's first sweep has its share.
func (p *Platform) shardEngine(ctx, bg context.Context, cfg Config, leases *dao.LeaseDAO, engine *trading.Engine) error {
	g := lease.NewGroup(leases, EngineGroup, p.Member, cfg.leaseOptions(p.log))
	if err := g.Heartbeat(ctx); err != nil {
		return fmt.Errorf("join the order replicas: %w", err)
	}
	engine.Shard(g.Owns)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		g.Run(bg)
	}()
	return nil
}

// runAnalytics runs the analytics job every cfg.analyticsInterval() while
// this process holds AnalyticsLease, until ctx is done: it rolls the closed
// minutes' volume shards into the buckets (trading.Service.RollVolume) and
// sets each asset's total_volume_24h (trading.Service.RefreshVolume24h).
func (p *Platform) runAnalytics(ctx context.Context, cfg Config, leases *dao.LeaseDAO, trade *trading.Service) {
	l := lease.New(leases, AnalyticsLease, p.Member, cfg.leaseOptions(p.log))
	l.Run(ctx, func(ctx context.Context) {
		t := time.NewTicker(cfg.analyticsInterval())
		defer t.Stop()
		for {
			if _, err := trade.RollVolume(ctx, trade.Now()); err != nil && ctx.Err() == nil {
				p.log.Warn("roll volume", "err", err)
			}
			if _, err := trade.RefreshVolume24h(ctx, trade.Now()); err != nil && ctx.Err() == nil {
				p.log.Warn("refresh 24h volume", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}
