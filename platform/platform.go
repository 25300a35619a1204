// Package platform composes the whole system in one process: the store, the
// DAOs, the trading layer, the user, inventory and order services behind the
// gateway, and the background workers (price feed). It is what
// `orderprocessor serve` runs and what the end-to-end tests start.
package platform

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/orderprocessor/orderprocessor/accounts"
	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/cache"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/lease"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/proxy"
	"github.com/orderprocessor/orderprocessor/redisstate"
	"github.com/orderprocessor/orderprocessor/services/inventory"
	"github.com/orderprocessor/orderprocessor/services/order"
	"github.com/orderprocessor/orderprocessor/services/user"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/web"
)

// Version is reported by /health and the OpenAPI document.
const Version = "0.1.0"

// Config configures a platform.
type Config struct {
	// Store, when set, is the engine to run on (the platform closes it);
	// otherwise the embedded engine opens DataDir. Open a Store with the
	// cursors of CursorCodec(JWTSecret), as the platform opens its own.
	Store   store.Store
	Tables  dao.Tables // dao.DefaultTables when zero
	DataDir string
	// SyncInterval is the embedded store's MinSyncInterval (its default
	// when 0; negative: none).
	SyncInterval time.Duration
	// JWTSecret signs access tokens (at least 32 bytes); a random one when empty.
	JWTSecret []byte
	// TokenLifetime is the access tokens' lifetime (auth.DefaultLifetime when 0).
	TokenLifetime time.Duration
	// AdminPassword, when set, creates or updates the "admin" user at start.
	AdminPassword string
	Gateway       gateway.Config
	Trading       trading.Config
	// PriceFeed is "static" (when ""), "simulated" or "http"; PriceInterval
	// the tick period (when 0: 2 s, or a minute for the http feed).
	PriceFeed     string
	PriceInterval time.Duration
	PriceSeed     uint64
	// PriceHTTP configures the "http" feed (URL required).
	PriceHTTP pricing.HTTPConfig
	// FXFeed is the exchange-rate feed: "static" (when ""; rates change
	// when an admin sets them), "simulated" (a seeded random walk, FXSeed)
	// or "http" (FXHTTP, URL required); FXInterval its tick period (when
	// 0: 10 s, or 10 minutes for the http feed). It runs where the price
	// feed runs, under its own lease (FXFeedLease).
	FXFeed     string
	FXInterval time.Duration
	FXSeed     uint64
	FXHTTP     pricing.FXHTTPConfig
	// EngineInterval is the period of the trigger engine's expiry sweep and
	// full re-evaluation (5 s when 0).
	EngineInterval time.Duration
	// AnalyticsInterval is the period of the analytics job (10 s when 0):
	// the rollup of the volume buckets (trading.Service.RollVolume).
	AnalyticsInterval time.Duration
	// LeaseTTL is the term of the price feed's lease (RoleInventory) and of
	// the order replicas' heartbeats (RoleOrder), renewed every third of it
	// (lease.DefaultTTL when 0): a dead replica's part is taken over within
	// 4/3 of it.
	LeaseTTL time.Duration
	// Role is the part of the system this process runs (RoleAll when "");
	// Upstreams, UpstreamTimeout and Breaker configure RoleGateway's proxies
	// (see Role).
	Role            Role
	Upstreams       Upstreams
	UpstreamTimeout time.Duration // proxy.DefaultTimeout when 0
	Breaker         proxy.BreakerConfig
	// PasswordParams are the argon2id parameters (auth.DefaultParams when zero).
	PasswordParams auth.Params
	// PasswordHashLimit bounds the memory of the password computations
	// running at once (auth.HashLimit; Memory 0: no limit).
	PasswordHashLimit auth.HashLimit
	// RedisURL, when set, keeps token revocation, rate-limit counters and
	// login throttling in that Redis (package redisstate), shared by every
	// replica using it with the same RedisPrefix, carries the event bus
	// (package eventbus; see Role), and adds a "redis" readiness check
	// (degraded, not failed, when Redis does not answer); otherwise
	// counters and throttling live in this process, revocations in the
	// store (see StoreRevoker) and events in the process's broker.
	RedisURL    string
	RedisPrefix string // redisstate.DefaultPrefix when ""
	// AccountCacheTTL is how long a process uses a user's account state
	// (active, tokens valid after) before reading it again: how late a
	// deactivation made by another process takes effect
	// (auth.DefaultAccountTTL when 0).
	AccountCacheTTL time.Duration
	// TokenClockSkew is how far in the future a token's iat or nbf may lie
	// (auth.DefaultClockSkew when 0).
	TokenClockSkew time.Duration
	// CacheTTL and CacheLocalTTL configure the shared cache of a process
	// with a store and RedisURL (package cache: cache.Options.TTL and
	// LocalTTL; their defaults when 0).
	CacheTTL      time.Duration
	CacheLocalTTL time.Duration
	// StreamMaxPerUser and StreamMaxTotal bound the live streams of this
	// process: per user and in all (stream.DefaultMaxPerUser and
	// stream.DefaultMaxTotal when 0; negative: no bound).
	StreamMaxPerUser int
	StreamMaxTotal   int

	Logger *slog.Logger
	Now    func() time.Time
}

// Platform is a running platform.
type Platform struct {
	Handler   http.Handler
	Metrics   http.Handler // the metrics Handler serves at /metrics unless Config.Gateway.NoMetrics, for a listener of their own
	Store     store.Store
	DAOs      *dao.DAOs
	Trading   *trading.Service
	Inventory *inventory.Service
	Users     *user.Service
	Issuer    *auth.Issuer
	Hasher    *auth.Hasher // the user service's passwords
	Engine    *trading.Engine
	// Stream is the live-event broker behind GET /api/v1/stream (fed by
	// the event bus when Config.RedisURL is set); it is closed (every
	// stream ends) when the platform closes.
	Stream *stream.Broker
	// Role is the part of the system the platform runs.
	Role Role
	// Proxies are the gateway role's proxies, one per service replica.
	Proxies []*proxy.Proxy
	// Member is the process's name as a lease holder and group member.
	Member string

	redis  *redisstate.Client // nil without Config.RedisURL
	events *events
	cache  *cache.Cache // nil without Config.RedisURL or a store
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *slog.Logger
}

// ErrJWTSecret is wrapped by Validate's errors about Config.JWTSecret, so
// that a caller can name where the secret comes from.
var ErrJWTSecret = errors.New("the JWT secret")

// Validate reports the first startup rule cfg breaks: Role is one of the
// roles; every role but RoleAll has the JWT secret (shared by the gateway
// and the services), which is at least auth.MinSecretLen bytes when set;
// RoleGateway has the URL of every service; a role that runs the price
// feed has a known PriceFeed; LeaseTTL is 0 or at least MinLeaseTTL. Open
// validates cfg first.
func (cfg Config) Validate() error {
	role := cfg.role()
	spec, ok := roles[role]
	if !ok {
		return fmt.Errorf("unknown role %q (all, gateway, user, order or inventory)", role)
	}
	if len(cfg.JWTSecret) == 0 && role != RoleAll {
		return fmt.Errorf("role %s: %w must be set (it is shared by the gateway and the services)", role, ErrJWTSecret)
	}
	if n := len(cfg.JWTSecret); n > 0 && n < auth.MinSecretLen {
		return fmt.Errorf("%w must be at least %d bytes", ErrJWTSecret, auth.MinSecretLen)
	}
	if spec.proxies {
		for _, up := range cfg.Upstreams.list() {
			if len(up.urls()) == 0 {
				return fmt.Errorf("role %s: the %s service URL is not set", role, up.role)
			}
		}
	}
	if cfg.LeaseTTL < 0 || (cfg.LeaseTTL > 0 && cfg.LeaseTTL < MinLeaseTTL) {
		return fmt.Errorf("lease TTL %s: want at least %s", cfg.LeaseTTL, MinLeaseTTL)
	}
	if spec.priceFeed {
		switch cfg.PriceFeed {
		case "", "static", "simulated", "http":
		default:
			return fmt.Errorf("unknown price feed %q (static, simulated or http)", cfg.PriceFeed)
		}
		switch cfg.FXFeed {
		case "", "static", "simulated", "http":
		default:
			return fmt.Errorf("unknown fx feed %q (static, simulated or http)", cfg.FXFeed)
		}
	}
	if s := cfg.Trading.FXSpread; s.IsNegative() || !s.LessThan(decimal.FromInt(1)) {
		return fmt.Errorf("fx spread %s: want 0 <= spread < 1", s)
	}
	if cfg.Trading.FXMaxAge < 0 {
		return fmt.Errorf("fx max age %s: want 0 (no bound) or more", cfg.Trading.FXMaxAge)
	}
	return nil
}

// role is cfg.Role, RoleAll when empty.
func (cfg Config) role() Role { return cmp.Or(cfg.Role, RoleAll) }

// priceInterval is the price feed's tick period: PriceInterval when set,
// else a minute for the http feed (a free API key allows a few calls a
// minute) and 2 s for the others.
func (cfg Config) analyticsInterval() time.Duration {
	if cfg.AnalyticsInterval > 0 {
		return cfg.AnalyticsInterval
	}
	return 10 * time.Second
}

func (cfg Config) priceInterval() time.Duration {
	switch {
	case cfg.PriceInterval > 0:
		return cfg.PriceInterval
	case cfg.PriceFeed == "http":
		return time.Minute
	}
	return 2 * time.Second
}

// fxInterval is the rate feed's tick period: FXInterval when set, else 10
// minutes for the http feed and 10 s for the others.
func (cfg Config) fxInterval() time.Duration {
	switch {
	case cfg.FXInterval > 0:
		return cfg.FXInterval
	case cfg.FXFeed == "http":
		return 10 * time.Minute
	}
	return 10 * time.Second
}

// Open opens the store in cfg.DataDir (unless cfg.Store is set, or the
// role is RoleGateway, which runs without a store unless given one), seeds
// the catalogue on first start, provisions the admin user, and starts the
// background workers, as far as cfg.Role runs them (see Role). It returns
// cfg.Validate's error, if any, before it opens anything (it closes
// cfg.Store then too).
func Open(ctx context.Context, cfg Config) (*Platform, error) {
	if err := cfg.Validate(); err != nil {
		if cfg.Store != nil {
			_ = cfg.Store.Close()
		}
		return nil, err
	}
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
	if db == nil && !roles[cfg.role()].proxies {
		cursors, err := CursorCodec(cfg.JWTSecret)
		if err != nil {
			return nil, err
		}
		if db, err = embedded.Open(cfg.DataDir, tables.Schemas(), embedded.Options{Logger: log, MinSyncInterval: cfg.SyncInterval, Cursors: cursors}); err != nil {
			return nil, fmt.Errorf("open store in %s: %w", cfg.DataDir, err)
		}
	}
	var shared *redisstate.Client
	if cfg.RedisURL != "" {
		var err error
		if shared, err = redisstate.New(ctx, cfg.RedisURL, redisstate.Options{Prefix: cfg.RedisPrefix, Now: now, Logger: log}); err != nil {
			if db != nil {
				_ = db.Close()
			}
			return nil, fmt.Errorf("shared state: %w", err)
		}
	}
	c, err := openCache(ctx, cfg, db, tables, log)
	if err == nil {
		var p *Platform
		if p, err = build(ctx, cfg, db, tables, log, now, shared, c); err == nil {
			return p, nil
		}
		if c != nil {
			_ = c.Close()
		}
	}
	if db != nil {
		_ = db.Close()
	}
	if shared != nil {
		_ = shared.Close()
	}
	return nil, err
}

// CursorCodec returns the codec of the pagination cursors of a server with
// the JWT secret: its key is derived from the secret (page.KeyFromSecret),
// so every process sharing the secret accepts the others' cursors and no
// one without it can make one. Without a secret (a random one per
// process) the key is random too.
func CursorCodec(jwtSecret []byte) (*page.Codec, error) {
	if len(jwtSecret) == 0 {
		return page.NewCodec(nil), nil
	}
	key, err := page.KeyFromSecret(jwtSecret)
	if err != nil {
		return nil, err
	}
	return page.NewCodec(key), nil
}

func build(ctx context.Context, cfg Config, db store.Store, tables dao.Tables, log *slog.Logger, now func() time.Time,
	shared *redisstate.Client, c *cache.Cache) (*Platform, error) {
	role := cfg.role()
	spec := roles[role]
	d, reads := daos(db, tables, c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if c != nil {
		cacheMetrics(reg, c)
	}
	evs, err := newEvents(cfg, spec, db != nil, reg, log, now)
	if err != nil {
		_ = evs.close()
		return nil, fmt.Errorf("event bus: %w", err)
	}
	built := false
	defer func() {
		if !built { // the bus's Redis client goes with a platform that failed to start
			_ = evs.close()
		}
	}()
	broker := evs.broker
	trade := trading.New(d, cfg.Trading, trading.Options{Now: now, Logger: log, Notifier: withFillMetrics(evs.notifier(), reg), Reads: reads})

	secret := cfg.JWTSecret
	if len(secret) == 0 { // RoleAll only (Validate)
		secret = []byte(rand.Text() + rand.Text())
	}
	issuer, err := auth.NewIssuer(secret, auth.IssuerOptions{Lifetime: cfg.TokenLifetime, ClockSkew: cfg.TokenClockSkew, Now: now})
	if err != nil {
		return nil, fmt.Errorf("token issuer: %w", err)
	}
	params := cfg.PasswordParams
	if params == (auth.Params{}) {
		params = auth.DefaultParams
	}
	hasher, err := auth.NewLimitedHasher(params, cfg.PasswordHashLimit)
	if err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	revoker, err := newRevoker(ctx, spec.soleWriter, db, tables, shared, now, log)
	if err != nil {
		return nil, err
	}
	// Every process with a store checks each token's subject (exists,
	// active, token issued after its ValidAfter) from this cache.
	var accountCache *auth.AccountCache
	if db != nil {
		accountCache = auth.NewAccountCache(loadAccount(d), auth.AccountCacheOptions{TTL: cfg.AccountCacheTTL, Now: now, Logger: log})
	}

	// The broker's (or the bus's) price hook is registered before the trigger engine's, so
	// that a price event precedes the order events it triggers. A
	// deactivation cancels the asset's resting orders before it is answered.
	inv := inventory.New(d.Assets, inventory.Options{Now: now, Logger: log, OnPriceChange: evs.priceHook(),
		OnDeactivate: trade.CancelAssetOrders, Rates: d.FX, RateMaxAge: cfg.Trading.FXMaxAge, OnRateChange: evs.rateHook(),
		Spread: cfg.Trading.FXSpread})
	accts := accounts.New(trade, hasher, accounts.Options{Cache: accountCache})
	users := user.New(trade, accts, issuer, revoker, user.Options{Logger: log})
	orderOpts := order.Options{Metrics: reg}
	if spec.proxies {
		orderOpts.Metrics = nil // the gateway only reads the order service's declarations
	}
	orders := order.New(trade, orderOpts)
	streamH := stream.NewHandler(broker, stream.HandlerOptions{Balances: d.Balances, Logger: log,
		MaxPerUser: cfg.StreamMaxPerUser, MaxTotal: cfg.StreamMaxTotal})
	svcs := services{RoleUser: users.Register, RoleInventory: inv.Register,
		RoleOrder: func(api *httpapi.API) { orders.Register(api); streamH.Register(api) }}

	api := httpapi.New(httpapi.Options{Title: "Order Processor API", Version: Version,
		Description: "Users, balances and a ledger, an asset catalogue, and orders whose effect on balances is atomic."})
	for _, r := range spec.serves {
		svcs[r](api)
	}
	var proxies []*proxy.Proxy
	if spec.proxies {
		if proxies, err = proxyAll(api, cfg, reg, log, svcs); err != nil {
			return nil, err
		}
	}

	gcfg := cfg.Gateway
	gcfg.Version = Version
	deps := gateway.Deps{Tokens: issuer, Revoker: revoker, Registry: reg, Logger: log, Now: now}
	if accountCache != nil {
		deps.Accounts = accountCache
	}
	if db != nil {
		deps.Ready = []gateway.Check{{Name: "store", Func: db.Ping}}
	}
	if shared != nil {
		// The process works without Redis (the cache and revocations fall
		// back to the store, or to the services' checks behind a gateway;
		// limits fail open): Redis down is "degraded".
		deps.Counter, deps.Blocks = shared, shared
		deps.Ready = append(deps.Ready, gateway.Check{Name: "redis", Func: shared.Ping, Degraded: true})
	}
	if c != nil {
		deps.Ready = append(deps.Ready, gateway.Check{Name: "cache", Func: c.Ping, Degraded: true})
	}
	if spec.behindGateway {
		// Behind the gateway: it limits traffic, logins and registrations, and
		// its proxy sets X-Forwarded-For to the client IP it saw. The
		// service still authenticates the bearer token itself (signature,
		// expiry, revocation, account, role), so a request that did not
		// pass the gateway gets no identity it cannot prove and no revoked
		// token works.
		gcfg.RateLimit, gcfg.LoginMaxFailures, gcfg.TrustProxy = 0, 0, true
		gcfg.LoginAccountMaxFailures, gcfg.RegisterLimit = 0, 0
		gcfg.AllowedOrigins = nil
		gcfg.ServiceName = string(role)
	}
	// The web app is served by the processes that face browsers: the
	// all-in-one server and the gateway.
	var app *web.Handler
	if !spec.behindGateway {
		if app, err = web.New(); err != nil {
			return nil, err
		}
	}
	var next http.Handler = api
	if app != nil {
		next = app.Mount(api)
	}
	gw, err := gateway.New(gcfg, routeTable(api, app != nil), next, deps)
	if err != nil {
		return nil, err
	}

	if spec.seeds {
		if n, err := inv.Seed(ctx); err != nil {
			return nil, fmt.Errorf("seed catalogue: %w", err)
		} else if n > 0 {
			log.Info("seeded the asset catalogue", "assets", n)
		}
	}
	if db != nil {
		// Every process with a store may move money at a rate: each stores
		// the reference rates of the currencies that have none.
		if n, err := trade.SeedRates(ctx); err != nil {
			return nil, fmt.Errorf("seed exchange rates: %w", err)
		} else if n > 0 {
			log.Info("seeded the exchange rates", "currencies", n)
		}
	}
	if cfg.AdminPassword != "" && spec.admin {
		if err := accts.ProvisionAdmin(ctx, cfg.AdminPassword); err != nil {
			return nil, fmt.Errorf("provision admin: %w", err)
		}
	}
	var feed, fxFeed pricing.Feed
	if spec.priceFeed {
		if feed, err = cfg.newFeed(); err != nil {
			return nil, err
		}
		if fxFeed, err = cfg.newFXFeed(); err != nil {
			return nil, err
		}
	}

	bg, cancel := context.WithCancel(context.Background())
	p := &Platform{Handler: gw, Metrics: gw.MetricsHandler(), Store: db, DAOs: d, Trading: trade, Inventory: inv, Users: users,
		Issuer: issuer, Hasher: hasher, Stream: broker, Role: role, Proxies: proxies, Member: lease.ProcessID(),
		redis: shared, events: evs, cache: c, cancel: cancel, log: log}
	p.wg.Add(1)
	go func() { // streams end when the platform closes
		defer p.wg.Done()
		<-bg.Done()
		broker.Close()
	}()
	switch spec.engine {
	case engineLive:
		engine := trading.NewEngine(trade, inv.Prices, cfg.EngineInterval)
		inv.OnPriceChange(func(_ context.Context, assetID string, _, price decimal.Decimal) {
			engine.PriceChanged(assetID, price)
		})
		p.startEngine(bg, engine)
	case engineRemote:
		// Prices change in the inventory service's process: the bus tells
		// the engine at once; without one, the engine sees them at its
		// periodic sweep (EngineInterval). The order replicas share the
		// sweeps by asset.
		engine := trading.NewEngine(trade, evs.sweepPrices(spec, inv.Prices), cfg.EngineInterval)
		if err := p.shardEngine(ctx, bg, cfg, d.Leases, engine); err != nil {
			cancel()
			p.wg.Wait()
			return nil, err
		}
		p.startEngine(bg, engine)
	}
	if p.Engine != nil || role == RoleUser {
		// The store counts volume and daily buckets from the first start
		// of a process that moves money.
		if _, err := d.Volume.Start(ctx, now()); err != nil {
			cancel()
			p.wg.Wait()
			return nil, err
		}
	}
	if p.Engine != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runAnalytics(bg, cfg, d.Leases, trade)
		}()
	}
	evs.start(p.Engine, log)
	if edb, ok := db.(*embedded.DB); ok {
		// DynamoDB deletes expired items (price points, idempotency
		// records) on its own; on Pebble, this does.
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.deleteExpired(bg, edb, now)
		}()
	}
	if feed != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runFeed(bg, cfg, d.Leases, feed, inv)
		}()
	}
	if fxFeed != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runFXFeed(bg, cfg, d.Leases, fxFeed, inv.RateSource())
		}()
	}
	built = true
	return p, nil
}

// routeTable returns the gateway's routes of api: its operations, each
// with the access its authentication asks, and the OpenAPI document and
// docs, public; with withApp, the web app's page and files, public too.
func routeTable(api *httpapi.API, withApp bool) gateway.RouteTable {
	routes := gateway.RouteTable{
		{Method: "GET", Pattern: httpapi.SpecPath, Access: gateway.Public},
		{Method: "GET", Pattern: httpapi.DocsPath, Access: gateway.Public},
	}
	if withApp {
		routes = append(routes,
			gateway.Route{Method: "GET", Pattern: web.IndexPath, Access: gateway.Public},
			gateway.Route{Method: "GET", Pattern: web.AssetPrefix + "{file...}", Access: gateway.Public})
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
	return routes
}

// newFeed returns the price feed of cfg.PriceFeed (nil for the static one).
func (cfg Config) newFeed() (pricing.Feed, error) {
	switch cfg.PriceFeed {
	case "simulated":
		return pricing.NewSimulated(cfg.PriceSeed), nil
	case "http":
		return pricing.NewHTTP(cfg.PriceHTTP)
	}
	return nil, nil
}

// newFXFeed returns the rate feed of cfg.FXFeed (nil for the static one).
func (cfg Config) newFXFeed() (pricing.Feed, error) {
	switch cfg.FXFeed {
	case "simulated":
		return pricing.NewSimulatedFX(cfg.FXSeed), nil
	case "http":
		return pricing.NewFXHTTP(cfg.FXHTTP)
	}
	return nil, nil
}

// newRevoker returns the token revoker of a process. With Redis (shared by
// every process using it): a fallbackRevoker when the process has a store
// (the store while Redis fails), else a passRevoker (a gateway: tokens
// pass while Redis fails, and its services check). Without Redis, with a
// store: a StoreRevoker, which the all-in-one process (soleWriter: the
// store's only writer of revocations) loads at start and then answers from
// memory, and the microservice roles read through. Else (a gateway without
// a store) an in-process one, which nothing fills: the services behind it
// check revocation.
func newRevoker(ctx context.Context, soleWriter bool, db store.Store, tables dao.Tables, shared *redisstate.Client, now func() time.Time, log *slog.Logger) (auth.Revoker, error) {
	switch {
	case shared != nil && db != nil:
		return &fallbackRevoker{redis: shared, store: NewStoreRevoker(db, tables, StoreRevokerOptions{Now: now}), log: log}, nil
	case shared != nil:
		return &passRevoker{Client: shared, log: log}, nil
	case db == nil:
		return auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: now}), nil
	case !soleWriter:
		return NewStoreRevoker(db, tables, StoreRevokerOptions{Now: now}), nil
	}
	r := NewStoreRevoker(db, tables, StoreRevokerOptions{SoleWriter: true, Now: now})
	n, err := r.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load token revocations: %w", err)
	}
	if n > 0 {
		log.Info("loaded token revocations", "revoked", n)
	}
	return r, nil
}

// loadAccount reads a user's account state for the AccountCache.
func loadAccount(d *dao.DAOs) auth.AccountLoader {
	return func(ctx context.Context, username string) (auth.Account, error) {
		u, err := d.Users.GetByUsername(ctx, username)
		if apperr.Is(err, apperr.NotFound) {
			return auth.Account{}, nil
		}
		if err != nil {
			return auth.Account{}, err
		}
		return auth.Account{Exists: true, Active: u.IsActive, ValidAfter: u.TokensValidAfter}, nil
	}
}

// deleteExpired deletes the embedded store's expired items at once and then
// every hour until ctx is done.
func (p *Platform) deleteExpired(ctx context.Context, db *embedded.DB, now func() time.Time) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := db.DeleteExpired(ctx, now())
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("delete expired items", "deleted", n, "err", err)
		case n > 0:
			p.log.Info("deleted expired items", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the background workers, writes the events the bus has
// queued, and closes the store and the Redis connections.
func (p *Platform) Close() error {
	p.cancel()
	p.wg.Wait()
	err := p.events.close()
	if p.Store != nil { // the gateway role may run without a store
		err = errors.Join(err, p.Store.Close())
	}
	if p.redis != nil {
		err = errors.Join(err, p.redis.Close())
	}
	if p.cache != nil {
		err = errors.Join(err, p.cache.Close())
	}
	return err
}
