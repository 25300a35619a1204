// Package platform composes the whole system in one process: the store, the
// DAOs, the trading layer, the user, inventory and order services behind the
// gateway, and the background workers (price feed). It is what
// `orderprocessor serve` runs and what the end-to-end tests start.
package platform

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/services/inventory"
	"github.com/orderprocessor/orderprocessor/services/order"
	"github.com/orderprocessor/orderprocessor/services/user"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Version is reported by /health and the OpenAPI document.
const Version = "0.1.0"

// Config configures a platform.
type Config struct {
	// Store, when set, is the engine to run on (the platform closes it);
	// otherwise the embedded engine opens DataDir.
	Store   store.Store
	Tables  dao.Tables // dao.DefaultTables when zero
	DataDir string
	// JWTSecret signs access tokens (at least 32 bytes); a random one when empty.
	JWTSecret []byte
	// TokenLifetime is the access tokens' lifetime (auth.DefaultLifetime when 0).
	TokenLifetime time.Duration
	// AdminPassword, when set, creates or updates the "admin" user at start.
	AdminPassword string
	Gateway       gateway.Config
	Trading       trading.Config
	// PriceFeed is "static", "simulated" or "http"; PriceInterval the tick
	// period (2 s when 0; 60 s for the http feed).
	PriceFeed     string
	PriceInterval time.Duration
	PriceSeed     uint64
	// PriceHTTP configures the "http" feed (URL required).
	PriceHTTP pricing.HTTPConfig
	// EngineInterval is the period of the trigger engine's expiry sweep and
	// full re-evaluation (5 s when 0).
	EngineInterval time.Duration
	// PasswordParams are the argon2id parameters (auth.DefaultParams when zero).
	PasswordParams auth.Params
	Logger         *slog.Logger
	Now            func() time.Time
}

// Platform is a running platform.
type Platform struct {
	Handler   http.Handler
	Store     store.Store
	DAOs      *dao.DAOs
	Trading   *trading.Service
	Inventory *inventory.Service
	Users     *user.Service
	Issuer    *auth.Issuer
	Engine    *trading.Engine
	// Stream is the live-event broker behind GET /api/v1/stream; it is
	// closed (every stream ends) when the platform closes.
	Stream *stream.Broker

	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *slog.Logger
}

// Open opens the store in cfg.DataDir, seeds the catalogue on first start,
// provisions the admin user, and starts the background workers.
func Open(ctx context.Context, cfg Config) (*Platform, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	tables := cfg.Tables
	if tables == (dao.Tables{}) {
		tables = dao.DefaultTables
	}
	db := cfg.Store
	if db == nil {
		var err error
		if db, err = embedded.Open(cfg.DataDir, tables.Schemas(), embedded.Options{Logger: log}); err != nil {
			return nil, fmt.Errorf("open store in %s: %w", cfg.DataDir, err)
		}
	}
	p, err := build(ctx, cfg, db, tables, log, now)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return p, nil
}

func build(ctx context.Context, cfg Config, db store.Store, tables dao.Tables, log *slog.Logger, now func() time.Time) (*Platform, error) {
	d := dao.New(db, tables)
	broker := stream.NewBroker(stream.Options{Now: now})
	trade := trading.New(d, cfg.Trading, trading.WithClock(now), trading.WithLogger(log), trading.WithNotifier(broker))

	secret := cfg.JWTSecret
	if len(secret) == 0 {
		secret = []byte(rand.Text() + rand.Text())
	}
	issuer, err := auth.NewIssuer(secret, auth.IssuerOptions{Lifetime: cfg.TokenLifetime, Now: now})
	if err != nil {
		return nil, fmt.Errorf("token issuer: %w", err)
	}
	params := cfg.PasswordParams
	if params == (auth.Params{}) {
		params = auth.DefaultParams
	}
	hasher, err := auth.NewHasher(params)
	if err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	revoker := auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: now})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The broker's price hook is registered before the trigger engine's, so
	// that a price event precedes the order events it triggers.
	inv := inventory.New(d, inventory.WithClock(now), inventory.WithLogger(log), inventory.OnPriceChange(broker.PriceChanged))
	users := user.New(trade, issuer, hasher, revoker, log)
	orders := order.New(trade, reg)

	api := httpapi.New(httpapi.Options{Title: "Order Processor API", Version: Version,
		Description: "Users, balances and a ledger, an asset catalogue, and orders whose effect on balances is atomic."})
	users.Register(api)
	inv.Register(api)
	orders.Register(api)
	stream.NewHandler(broker, stream.HandlerOptions{Balances: d.Balances, Logger: log}).Register(api)

	routes := gateway.RouteTable{
		{Method: "GET", Pattern: httpapi.SpecPath, Access: gateway.Public},
		{Method: "GET", Pattern: httpapi.DocsPath, Access: gateway.Public},
	}
	for _, op := range api.Operations() {
		access := gateway.Public
		switch op.Auth {
		case httpapi.AuthUser:
			access = gateway.User
		case httpapi.AuthAdmin:
			access = gateway.Admin
		}
		routes = append(routes, gateway.Route{Method: op.Method, Pattern: op.Path, Access: access})
	}
	gcfg := cfg.Gateway
	gcfg.Version = Version
	gw, err := gateway.New(gcfg, routes, api, gateway.Deps{
		Tokens: issuer, Revoker: revoker, Registry: reg, Logger: log, Now: now,
		Ready: []gateway.Check{{Name: "store", Func: db.Ping}},
	})
	if err != nil {
		return nil, err
	}

	if n, err := inv.Seed(ctx); err != nil {
		return nil, fmt.Errorf("seed catalogue: %w", err)
	} else if n > 0 {
		log.Info("seeded the asset catalogue", "assets", n)
	}
	if cfg.AdminPassword != "" {
		if err := users.ProvisionAdmin(ctx, cfg.AdminPassword); err != nil {
			return nil, fmt.Errorf("provision admin: %w", err)
		}
	}

	bg, cancel := context.WithCancel(context.Background())
	p := &Platform{Handler: gw, Store: db, DAOs: d, Trading: trade, Inventory: inv, Users: users,
		Issuer: issuer, Stream: broker, cancel: cancel, log: log}
	p.wg.Add(1)
	go func() { // streams end when the platform closes
		defer p.wg.Done()
		<-bg.Done()
		broker.Close()
	}()
	var feed pricing.Feed
	switch cfg.PriceFeed {
	case "", "static":
	case "simulated":
		feed = pricing.NewSimulated(cfg.PriceSeed)
	case "http":
		h, err := pricing.NewHTTP(cfg.PriceHTTP)
		if err != nil {
			cancel()
			return nil, err
		}
		feed = h
	default:
		cancel()
		return nil, fmt.Errorf("unknown price feed %q (static, simulated or http)", cfg.PriceFeed)
	}
	engine := trading.NewEngine(trade, inv.Prices, cfg.EngineInterval)
	inv.OnPriceChange(func(_ context.Context, assetID string, _, price decimal.Decimal) {
		engine.PriceChanged(assetID, price)
	})
	p.Engine = engine
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		engine.Run(bg)
	}()
	if feed != nil {
		interval := cfg.PriceInterval
		switch {
		case interval > 0:
		case cfg.PriceFeed == "http":
			interval = time.Minute
		default:
			interval = 2 * time.Second
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			pricing.Run(bg, feed, inv, interval, log)
		}()
	}
	return p, nil
}

// Close stops the background workers and closes the store.
func (p *Platform) Close() error {
	p.cancel()
	p.wg.Wait()
	return p.Store.Close()
}
