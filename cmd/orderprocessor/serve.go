package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/cache"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/lease"
	"github.com/orderprocessor/orderprocessor/logbuf"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/proxy"
	"github.com/orderprocessor/orderprocessor/redisstate"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
)

func runServe(args []string) int { return serve(context.Background(), args, nil) }

// serveFlags are serve's settings: its flags, each with its environment
// variable (envFlags).
type serveFlags struct {
	addr, dataDir, storeKind, role   string
	syncInterval                     time.Duration
	dyn                              dynamoFlags
	userURL, orderURL, inventoryURL  string
	upstreamTimeout, breakerCoolDown time.Duration
	breakerFailures                  int
	engineInterval, leaseTTL         time.Duration
	analyticsInterval                time.Duration
	feed, priceURL, priceKey         string
	priceKeyHeader                   string
	priceInterval                    time.Duration
	priceIntervalSet                 bool // --price-interval given (the http feed's default differs)
	seed                             int
	fxFeed, fxURL, fxSpread          string
	fxInterval, fxMaxAge             time.Duration
	fxSeed                           int
	logFormat, origins               string
	rateLimit, loginFailures         int
	loginWindow, loginBlock          time.Duration
	accountFailures, registerLimit   int
	accountWindow, accountDelay      time.Duration
	accountMaxDelay, registerWindow  time.Duration
	hashMemory                       int
	hashWait                         time.Duration
	trustProxy                       bool
	tokenTTL, tokenSkew, accountTTL  time.Duration
	deposit, withdraw, fee           string
	redisURL, pprofAddr, metricsAddr string
	redisPrefix                      string
	cacheTTL, cacheLocalTTL          time.Duration
	streamPerUser, streamTotal       int
	production                       bool
}

// register declares the flags on f; fileLimit is the soft open file limit
// (the default of --stream-max-total follows it).
func (s *serveFlags) register(f *envFlags, fileLimit uint64) {
	f.String(&s.addr, "addr", ":8080", "listen address")
	f.String(&s.dataDir, "data-dir", "./data", "directory of the embedded store")
	f.String(&s.storeKind, "store", "embedded", "store engine: embedded or dynamodb (shared by every process of a microservice deployment)")
	f.Duration(&s.syncInterval, "sync-interval", time.Millisecond, "embedded store: shortest time between two fsyncs of its log while 8+ commits are in flight (fewer fsyncs under load, up to this much more latency); 0 syncs at once")
	s.dyn.register(f)
	f.String(&s.role, "role", "all", "what to run: all, or one part of the microservice deployment: gateway, user, order or inventory")
	f.String(&s.userURL, "user-url", "", "base URL of the user service, or a comma-separated list of its replicas' (role gateway)")
	f.String(&s.orderURL, "order-url", "", "base URL of the order service, or a comma-separated list of its replicas' (role gateway)")
	f.String(&s.inventoryURL, "inventory-url", "", "base URL of the inventory service, or a comma-separated list of its replicas' (role gateway)")
	f.Duration(&s.upstreamTimeout, "upstream-timeout", 30*time.Second, "how long the gateway waits for a service's response headers (role gateway)")
	f.Int(&s.breakerFailures, "breaker-failures", 5, "consecutive failures (transport errors, timeouts, 5xx) that open a service's circuit breaker (role gateway)")
	f.Duration(&s.breakerCoolDown, "breaker-cooldown", 10*time.Second, "how long an open circuit breaker refuses requests before it lets a probe through (role gateway)")
	f.Duration(&s.engineInterval, "engine-interval", 5*time.Second, "period of the trigger engine's full sweep; in role order also how late it sees price changes")
	f.Duration(&s.analyticsInterval, "analytics-interval", 10*time.Second, "period of the analytics job (roles all and order, one process at a time): the rollup of closed minutes' volume shards into the volume buckets")
	f.Duration(&s.leaseTTL, "lease-ttl", lease.DefaultTTL, "term of the price feed's lease (role inventory: one replica runs the feed) and of the order replicas' heartbeats (role order: they share the sweeps by asset), renewed every third of it; a dead replica's part is taken over within 4/3 of it")
	f.String(&s.feed, "price-feed", "simulated", "price feed: simulated, static or http (a CoinGecko-compatible markets API)")
	f.Duration(&s.priceInterval, "price-interval", 2*time.Second, "price feed tick period (default 1m for --price-feed http)")
	f.String(&s.priceURL, "price-url", "https://api.coingecko.com/api/v3", "base URL of the http price feed's API")
	// Not f.String: its default would show the secret in -help.
	f.StringVar(&s.priceKey, "price-api-key", "", "API key of the http price feed (prefer $"+envName("price-api-key")+")")
	f.String(&s.priceKeyHeader, "price-api-key-header", pricing.DefaultAPIKeyHeader, "header carrying the http price feed's API key")
	f.Int(&s.seed, "price-seed", 1, "seed of the simulated price feed")
	f.String(&s.fxFeed, "fx-feed", "static", "exchange-rate feed: static (rates change when an admin sets them), simulated or http (an API of the frankfurter.app / exchangerate.host shape); it runs where the price feed runs, one replica at a time")
	f.Duration(&s.fxInterval, "fx-interval", 0, "exchange-rate feed tick period (0: 10s, or 10m for --fx-feed http)")
	f.String(&s.fxURL, "fx-url", "https://api.frankfurter.app", "base URL of the http exchange-rate feed's API (GET <url>/latest?base=EUR&symbols=USD)")
	f.Int(&s.fxSeed, "fx-seed", 1, "seed of the simulated exchange-rate feed")
	f.String(&s.fxSpread, "fx-spread", "0", "fraction of a conversion's mid-rate value the platform keeps (0.002 = 0.2%): the credit is the mid-rate value times 1 minus it; an order in another currency settles at the rate moved by it against the order")
	f.Duration(&s.fxMaxAge, "fx-max-age", 0, "oldest exchange rate that moves money: a conversion, an order in another currency or a deposit or withdrawal in another currency under a daily limit at an older rate is refused with 503 fx_rate_stale (0: no bound)")
	f.String(&s.logFormat, "log-format", "text", "log format: text or json")
	f.String(&s.origins, "cors-origins", "*", "comma-separated origins allowed by CORS (* for any)")
	f.Int(&s.rateLimit, "rate-limit", gateway.DefaultRateLimit, "requests per minute per client IP and per user (0 disables)")
	f.Int(&s.loginFailures, "login-max-failures", gateway.DefaultLoginMaxFailures, "failed logins per client IP within --login-window before a --login-block (0 disables)")
	f.Duration(&s.loginWindow, "login-window", gateway.DefaultLoginWindow, "window in which failed logins are counted")
	f.Duration(&s.loginBlock, "login-block", gateway.DefaultLoginBlock, "how long a throttled client IP's logins are refused (403)")
	f.Int(&s.accountFailures, "login-account-max-failures", gateway.DefaultLoginAccountMaxFailures, "failed logins to one account (from any IP) within --login-account-window before each further attempt waits --login-account-delay, doubling up to --login-account-max-delay (0 disables)")
	f.Duration(&s.accountWindow, "login-account-window", gateway.DefaultLoginAccountWindow, "window in which failed logins to one account are counted (a successful login ends it)")
	f.Duration(&s.accountDelay, "login-account-delay", gateway.DefaultLoginAccountDelay, "first wait imposed on an account over --login-account-max-failures")
	f.Duration(&s.accountMaxDelay, "login-account-max-delay", gateway.DefaultLoginAccountMaxDelay, "longest wait imposed on an account")
	f.Int(&s.registerLimit, "register-limit", gateway.DefaultRegisterLimit, "registrations per client IP per --register-window (0 disables)")
	f.Duration(&s.registerWindow, "register-window", gateway.DefaultRegisterWindow, "window of --register-limit")
	f.Int(&s.hashMemory, "password-hash-memory", auth.DefaultHashMemory>>20, "MiB of memory the password hashes (argon2id, 19 MiB each, until collected) may hold at once, with at most GOMAXPROCS-1 running; further logins and registrations wait (0: no limit)")
	f.Duration(&s.hashWait, "password-hash-wait", auth.DefaultHashWait, "how long a login or registration waits for room under --password-hash-memory before it is answered 503")
	f.Bool(&s.trustProxy, "trust-proxy", false, "take the client IP from X-Forwarded-For")
	f.Duration(&s.tokenTTL, "token-ttl", time.Hour, "access token lifetime")
	f.Duration(&s.tokenSkew, "token-clock-skew", auth.DefaultClockSkew, "how far in the future a token's iat or nbf may lie (clock differences between processes)")
	f.Duration(&s.accountTTL, "account-cache-ttl", auth.DefaultAccountTTL, "how long a process uses a user's cached account state (active, tokens valid after) before reading it again: how late a deactivation made by another process takes effect")
	f.String(&s.deposit, "deposit-daily-limit", "10000", "daily deposit limit in USD, every currency counted at its USD value (0: none)")
	f.String(&s.withdraw, "withdraw-daily-limit", "5000", "daily withdrawal limit in USD, every currency counted at its USD value (0: none)")
	f.String(&s.fee, "fee-rate", "0", "order fee as a fraction of the order value (0.001 = 0.1%)")
	// Not f.String: a password in the URL would show in -help.
	f.StringVar(&s.redisURL, "redis-url", "", "Redis (redis://[user:password@]host:port/db) keeping token revocation, rate limits and login throttling shared by every replica, carrying the event bus (price, order and balance events to every order replica's trigger engine and live streams), and the shared cache of assets, balances, holdings and orders (docs/cache.md); in process when empty ($"+envName("redis-url")+")")
	f.String(&s.redisPrefix, "redis-prefix", redisstate.DefaultPrefix, "prefix of every Redis key the process uses: the processes of one deployment share it, deployments sharing a Redis differ")
	f.Duration(&s.cacheTTL, "cache-ttl", cache.DefaultTTL, "with --redis-url: how long Redis keeps a cache entry (the longest an entry outlives a write whose process died before updating the cache)")
	f.Duration(&s.cacheLocalTTL, "cache-local-ttl", cache.DefaultLocalTTL, "with --redis-url: how long a process serves an asset's price and active flag from memory before asking Redis again: how late it sees another process's price change or deactivation (0: always ask Redis)")
	f.String(&s.pprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (off when empty; never expose it)")
	f.String(&s.metricsAddr, "metrics-addr", "", "serve the Prometheus metrics at /metrics on this address, e.g. :9090, instead of the API's (with --production, or with this flag, the API's /metrics answers 404)")
	f.Int(&s.streamPerUser, "stream-max-per-user", stream.DefaultMaxPerUser, "live streams (GET /api/v1/stream) one user may have open at once in this process (served, or proxied by a gateway); more are refused with 429 (0: no bound)")
	f.Int(&s.streamTotal, "stream-max-total", defaultStreamTotal(fileLimit), "live streams open at once in this process; more are refused with 429 (default: half the open file limit, at most 10000; 0: no bound)")
	f.Bool(&s.production, "production", false, "production mode: refuse to start without ORDERPROCESSOR_JWT_SECRET, JSON logs, no /metrics on the API's address")
}

// parse parses args into s, then reads the variables of the flags whose
// defaults are not shown (--price-api-key, --redis-url).
func (s *serveFlags) parse(f *envFlags, args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if s.priceKey == "" {
		s.priceKey = os.Getenv(envName("price-api-key"))
	}
	if s.redisURL == "" {
		s.redisURL = os.Getenv(envName("redis-url"))
	}
	s.priceIntervalSet = f.isSet("price-interval")
	return nil
}

// config returns the platform's config of the flags, the JWT secret and
// the admin password (without the store, which serve opens), or the first
// flag or config error (platform.Config.Validate).
func (s *serveFlags) config(secret, adminPassword string) (platform.Config, error) {
	if s.storeKind != "embedded" && s.storeKind != "dynamodb" {
		return platform.Config{}, fmt.Errorf("--store %q: want embedded or dynamodb", s.storeKind)
	}
	if s.hashMemory < 0 || s.hashWait < 0 || s.accountFailures < 0 || s.registerLimit < 0 {
		return platform.Config{}, errors.New("--password-hash-memory, --password-hash-wait, --login-account-max-failures and --register-limit must not be negative")
	}
	tcfg := trading.DefaultConfig()
	for _, p := range []struct {
		name string
		text string
		dst  *decimal.Decimal
	}{{"deposit-daily-limit", s.deposit, &tcfg.DepositDailyLimit}, {"withdraw-daily-limit", s.withdraw, &tcfg.WithdrawDailyLimit},
		{"fee-rate", s.fee, &tcfg.FeeRate}, {"fx-spread", s.fxSpread, &tcfg.FXSpread}} {
		d, err := decimal.Parse(p.text)
		if err != nil || d.IsNegative() {
			return platform.Config{}, fmt.Errorf("--%s %q is not a non-negative decimal", p.name, p.text)
		}
		*p.dst = d
	}
	tcfg.FXMaxAge = s.fxMaxAge
	if secret == "" && s.production {
		return platform.Config{}, errors.New("ORDERPROCESSOR_JWT_SECRET is required in production mode")
	}

	gcfg := gateway.DefaultConfig()
	gcfg.RateLimit = s.rateLimit
	gcfg.LoginMaxFailures = s.loginFailures
	gcfg.LoginWindow, gcfg.LoginBlock = s.loginWindow, s.loginBlock
	gcfg.LoginAccountMaxFailures, gcfg.LoginAccountWindow = s.accountFailures, s.accountWindow
	gcfg.LoginAccountDelay, gcfg.LoginAccountMaxDelay = s.accountDelay, s.accountMaxDelay
	gcfg.RegisterLimit, gcfg.RegisterWindow = s.registerLimit, s.registerWindow
	gcfg.TrustProxy = s.trustProxy
	gcfg.NoMetrics = s.production || s.metricsAddr != ""
	if s.origins != "" && s.origins != "*" {
		gcfg.AllowedOrigins = strings.Split(s.origins, ",")
	}
	cfg := platform.Config{
		Role: platform.Role(s.role), EngineInterval: s.engineInterval, AnalyticsInterval: s.analyticsInterval, LeaseTTL: s.leaseTTL,
		Upstreams:       platform.Upstreams{User: s.userURL, Order: s.orderURL, Inventory: s.inventoryURL},
		UpstreamTimeout: s.upstreamTimeout, Breaker: proxy.BreakerConfig{FailureThreshold: s.breakerFailures, CoolDown: s.breakerCoolDown},
		DataDir: s.dataDir, SyncInterval: cmp.Or(s.syncInterval, -1), JWTSecret: []byte(secret), TokenLifetime: s.tokenTTL,
		TokenClockSkew: s.tokenSkew, AccountCacheTTL: s.accountTTL,
		AdminPassword: adminPassword, Gateway: gcfg, Trading: tcfg,
		PriceFeed: s.feed, PriceSeed: uint64(s.seed),
		PriceHTTP: pricing.HTTPConfig{URL: s.priceURL, APIKey: s.priceKey, APIKeyHeader: s.priceKeyHeader},
		FXFeed:    s.fxFeed, FXInterval: s.fxInterval, FXSeed: uint64(s.fxSeed),
		FXHTTP:            pricing.FXHTTPConfig{URL: s.fxURL},
		RedisURL:          s.redisURL,
		RedisPrefix:       s.redisPrefix,
		CacheTTL:          s.cacheTTL,
		CacheLocalTTL:     cmp.Or(s.cacheLocalTTL, -1),
		StreamMaxPerUser:  streamBound(s.streamPerUser),
		StreamMaxTotal:    streamBound(s.streamTotal),
		PasswordHashLimit: auth.HashLimit{Memory: int64(s.hashMemory) << 20, Wait: s.hashWait},
	}
	if s.priceIntervalSet {
		cfg.PriceInterval = s.priceInterval // else the platform's default, which depends on the feed
	}
	if err := cfg.Validate(); errors.Is(err, platform.ErrJWTSecret) {
		return cfg, fmt.Errorf("ORDERPROCESSOR_JWT_SECRET: %w", err)
	} else if err != nil {
		return cfg, err
	}
	return cfg, nil
}

// serve runs the platform until ctx is done or SIGINT or SIGTERM arrives;
// listening, when set, is called with the addresses of the API and of the
// metrics (nil without --metrics-addr) once they accept connections.
func serve(parent context.Context, args []string, listening func(api, metrics net.Addr)) int {
	// Raised first: the default of --stream-max-total follows the limit.
	fileLimit, fileLimitErr := raiseOpenFileLimit()
	f := newEnvFlags("serve")
	var sf serveFlags
	sf.register(f, fileLimit.Soft)
	if err := sf.parse(f, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 2
	}

	// Logs are buffered (one write a tenth of a second instead of one per
	// request); warnings and errors are written at once.
	logOut := logbuf.New(os.Stderr, 100*time.Millisecond, 64<<10)
	defer logOut.Close()
	var handler slog.Handler = slog.NewTextHandler(logOut, nil)
	if sf.logFormat == "json" || sf.production {
		handler = slog.NewJSONHandler(logOut, nil)
	}
	log := slog.New(logbuf.Handler(handler, logOut, slog.LevelWarn))
	slog.SetDefault(log)
	if fileLimitErr != nil {
		log.Warn("open file limit", "soft", fileLimit.Soft, "hard", fileLimit.Hard, "err", fileLimitErr)
	} else {
		log.Info("open file limit", "soft", fileLimit.Soft, "hard", fileLimit.Hard, "soft_at_start", fileLimit.Before)
	}

	secret := os.Getenv("ORDERPROCESSOR_JWT_SECRET")
	cfg, err := sf.config(secret, os.Getenv("ORDERPROCESSOR_ADMIN_PASSWORD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 2
	}
	cfg.Logger = log
	if secret == "" {
		log.Warn("ORDERPROCESSOR_JWT_SECRET is not set: using a random secret; tokens die with this process")
	}

	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if sf.storeKind == "dynamodb" {
		cursors, err := platform.CursorCodec(cfg.JWTSecret)
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		ddb, t, err := sf.dyn.open(ctx, cursors)
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		cfg.Store, cfg.Tables = ddb, t // the platform closes it
	}
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	defer func() {
		if err := p.Close(); err != nil {
			log.Error("close platform", "err", err)
		}
	}()

	if sf.pprofAddr != "" {
		go servePprof(sf.pprofAddr, log)
	}
	if os.Getenv("GOGC") == "" {
		// The order path allocates briskly and keeps little, so a GC target
		// of 400% trades some heap for orders/s (docs/performance.md).
		// GOGC and GOMEMLIMIT still override it.
		debug.SetGCPercent(400)
	}
	if n := storeProcs(p.Store, os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	var metricsLn net.Listener
	if sf.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", sf.metricsAddr); err != nil {
			_ = ln.Close()
			fmt.Fprintln(os.Stderr, "serve: --metrics-addr:", err)
			return 1
		}
	}
	srv := &http.Server{Handler: p.Handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	srv.RegisterOnShutdown(p.Stream.Close) // end the live streams, or Shutdown waits for them
	url := "http://" + displayAddr(ln.Addr())
	log.Info("orderprocessor listening", "addr", ln.Addr().String(), "role", sf.role, "store", sf.storeKind, "data_dir", sf.dataDir, "price_feed", sf.feed,
		"gomaxprocs", runtime.GOMAXPROCS(0), "stream_max_per_user", sf.streamPerUser, "stream_max_total", sf.streamTotal)
	fmt.Printf("Order Processor is listening on %s  (API docs: %s/docs, health: %s/health)\n", url, url, url)

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var metricsSrv *http.Server
	var metricsListening net.Addr
	switch {
	case metricsLn != nil:
		metricsSrv = newMetricsServer(p.Metrics)
		metricsListening = metricsLn.Addr()
		log.Info("metrics listening", "addr", metricsListening.String(), "path", gateway.PathMetrics)
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
	case sf.production:
		log.Info("metrics are not served: set --metrics-addr to serve them on an address of their own")
	}
	if listening != nil {
		listening(ln.Addr(), metricsListening)
	}
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Error("shutdown", "err", err)
	}
	if metricsSrv != nil {
		if err := metricsSrv.Shutdown(shutdown); err != nil {
			log.Error("shutdown metrics", "err", err)
		}
	}
	return 0
}

// newMetricsServer serves h at GET and HEAD /metrics, and nothing else.
func newMetricsServer(h http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET "+gateway.PathMetrics, h)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
}

// storeProcs returns the GOMAXPROCS serve sets for a process with store db,
// or 0 to keep def (the runtime's default: the CPUs, or the container's CPU
// limit). With the embedded store it is one more than def: Pebble's threads
// block in file system calls (the log's write and fdatasync at every sync,
// flushes, compactions), and a thread in such a call keeps its P until the
// runtime's monitor hands it over, tens of microseconds or more each time,
// while other goroutines wait to run (docs/performance.md has the
// measurements). DynamoDB makes no such calls, and the GOMAXPROCS variable,
// when set, has the last word. Once set, the runtime does not follow a
// container's CPU limit as it changes: the process takes the limit it
// started with, plus one.
func storeProcs(db store.Store, env string, def int) int {
	if _, embedded := db.(*embedded.DB); !embedded || env != "" {
		return 0
	}
	return def + 1
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		port := 0
		if ok {
			port = tcp.Port
		}
		return fmt.Sprintf("localhost:%d", port)
	}
	return tcp.String()
}
