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
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/logbuf"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/proxy"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
)

func runServe(args []string) int { return serve(context.Background(), args, nil) }

// serve runs the platform until ctx is done or SIGINT or SIGTERM arrives;
// listening, when set, is called with the addresses of the API and of the
// metrics (nil without --metrics-addr) once they accept connections.
func serve(parent context.Context, args []string, listening func(api, metrics net.Addr)) int {
	// Raised first: the default of --stream-max-total follows the limit.
	fileLimit, fileLimitErr := raiseOpenFileLimit()
	f := newEnvFlags("serve")
	var (
		addr, dataDir, storeKind, role, feed, logFormat, origins string
		priceURL, priceKey, priceKeyHeader                       string
		redisURL                                                 string
		userURL, orderURL, inventoryURL                          string
		upstreamTimeout, breakerCoolDown, engineInterval         time.Duration
		syncInterval                                             time.Duration
		breakerFailures                                          int
		dyn                                                      dynamoFlags
		deposit, withdraw, fee                                   string
		rateLimit, loginFailures                                 int
		priceInterval, tokenTTL                                  time.Duration
		production, trustProxy                                   bool
		seed                                                     int
	)
	f.String(&addr, "addr", ":8080", "listen address")
	f.String(&dataDir, "data-dir", "./data", "directory of the embedded store")
	f.String(&storeKind, "store", "embedded", "store engine: embedded or dynamodb (shared by every process of a microservice deployment)")
	f.Duration(&syncInterval, "sync-interval", time.Millisecond, "embedded store: shortest time between two fsyncs of its log while 8+ commits are in flight (fewer fsyncs under load, up to this much more latency); 0 syncs at once")
	dyn.register(f)
	f.String(&role, "role", "all", "what to run: all, or one part of the microservice deployment: gateway, user, order or inventory")
	f.String(&userURL, "user-url", "", "base URL of the user service (role gateway)")
	f.String(&orderURL, "order-url", "", "base URL of the order service (role gateway)")
	f.String(&inventoryURL, "inventory-url", "", "base URL of the inventory service (role gateway)")
	f.Duration(&upstreamTimeout, "upstream-timeout", 30*time.Second, "how long the gateway waits for a service's response headers (role gateway)")
	f.Int(&breakerFailures, "breaker-failures", 5, "consecutive failures (transport errors, timeouts, 5xx) that open a service's circuit breaker (role gateway)")
	f.Duration(&breakerCoolDown, "breaker-cooldown", 10*time.Second, "how long an open circuit breaker refuses requests before it lets a probe through (role gateway)")
	f.Duration(&engineInterval, "engine-interval", 5*time.Second, "period of the trigger engine's full sweep; in role order also how late it sees price changes")
	f.String(&feed, "price-feed", "simulated", "price feed: simulated, static or http (a CoinGecko-compatible markets API)")
	f.Duration(&priceInterval, "price-interval", 2*time.Second, "price feed tick period (default 1m for --price-feed http)")
	f.String(&priceURL, "price-url", "https://api.coingecko.com/api/v3", "base URL of the http price feed's API")
	// Not f.String: its default would show the secret in -help.
	f.StringVar(&priceKey, "price-api-key", "", "API key of the http price feed (prefer $"+envName("price-api-key")+")")
	f.String(&priceKeyHeader, "price-api-key-header", pricing.DefaultAPIKeyHeader, "header carrying the http price feed's API key")
	f.Int(&seed, "price-seed", 1, "seed of the simulated price feed")
	f.String(&logFormat, "log-format", "text", "log format: text or json")
	f.String(&origins, "cors-origins", "*", "comma-separated origins allowed by CORS (* for any)")
	f.Int(&rateLimit, "rate-limit", gateway.DefaultRateLimit, "requests per minute per client IP and per user (0 disables)")
	f.Int(&loginFailures, "login-max-failures", gateway.DefaultLoginMaxFailures, "failed logins per client IP within --login-window before a --login-block (0 disables)")
	var loginWindow, loginBlock time.Duration
	f.Duration(&loginWindow, "login-window", gateway.DefaultLoginWindow, "window in which failed logins are counted")
	f.Duration(&loginBlock, "login-block", gateway.DefaultLoginBlock, "how long a throttled client IP's logins are refused (403)")
	var accountFailures, registerLimit, hashMemory int
	var accountWindow, accountDelay, accountMaxDelay, registerWindow, hashWait time.Duration
	f.Int(&accountFailures, "login-account-max-failures", gateway.DefaultLoginAccountMaxFailures, "failed logins to one account (from any IP) within --login-account-window before each further attempt waits --login-account-delay, doubling up to --login-account-max-delay (0 disables)")
	f.Duration(&accountWindow, "login-account-window", gateway.DefaultLoginAccountWindow, "window in which failed logins to one account are counted (a successful login ends it)")
	f.Duration(&accountDelay, "login-account-delay", gateway.DefaultLoginAccountDelay, "first wait imposed on an account over --login-account-max-failures")
	f.Duration(&accountMaxDelay, "login-account-max-delay", gateway.DefaultLoginAccountMaxDelay, "longest wait imposed on an account")
	f.Int(&registerLimit, "register-limit", gateway.DefaultRegisterLimit, "registrations per client IP per --register-window (0 disables)")
	f.Duration(&registerWindow, "register-window", gateway.DefaultRegisterWindow, "window of --register-limit")
	f.Int(&hashMemory, "password-hash-memory", auth.DefaultHashMemory>>20, "MiB of memory the password hashes (argon2id, 19 MiB each, until collected) may hold at once, with at most GOMAXPROCS-1 running; further logins and registrations wait (0: no limit)")
	f.Duration(&hashWait, "password-hash-wait", auth.DefaultHashWait, "how long a login or registration waits for room under --password-hash-memory before it is answered 503")
	f.Bool(&trustProxy, "trust-proxy", false, "take the client IP from X-Forwarded-For")
	f.Duration(&tokenTTL, "token-ttl", time.Hour, "access token lifetime")
	var tokenSkew, accountTTL time.Duration
	f.Duration(&tokenSkew, "token-clock-skew", auth.DefaultClockSkew, "how far in the future a token's iat or nbf may lie (clock differences between processes)")
	f.Duration(&accountTTL, "account-cache-ttl", auth.DefaultAccountTTL, "how long a process uses a user's cached account state (active, tokens valid after) before reading it again: how late a deactivation made by another process takes effect")
	f.String(&deposit, "deposit-daily-limit", "10000", "daily deposit limit in USD, every currency counted at its USD value (0: none)")
	f.String(&withdraw, "withdraw-daily-limit", "5000", "daily withdrawal limit in USD, every currency counted at its USD value (0: none)")
	f.String(&fee, "fee-rate", "0", "order fee as a fraction of the order value (0.001 = 0.1%)")
	// Not f.String: a password in the URL would show in -help.
	f.StringVar(&redisURL, "redis-url", "", "Redis (redis://[user:password@]host:port/db) keeping token revocation, rate limits and login throttling shared by every replica; in process when empty ($"+envName("redis-url")+")")
	var pprofAddr string
	f.String(&pprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (off when empty; never expose it)")
	var metricsAddr string
	f.String(&metricsAddr, "metrics-addr", "", "serve the Prometheus metrics at /metrics on this address, e.g. :9090, instead of the API's (with --production, or with this flag, the API's /metrics answers 404)")
	var streamPerUser, streamTotal int
	f.Int(&streamPerUser, "stream-max-per-user", stream.DefaultMaxPerUser, "live streams (GET /api/v1/stream) one user may have open at once in this process; more are refused with 429 (0: no bound)")
	f.Int(&streamTotal, "stream-max-total", defaultStreamTotal(fileLimit.Soft), "live streams open at once in this process; more are refused with 429 (default: half the open file limit, at most 10000; 0: no bound)")
	f.Bool(&production, "production", false, "production mode: refuse to start without ORDERPROCESSOR_JWT_SECRET, JSON logs, no /metrics on the API's address")
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 2
	}

	if priceKey == "" {
		priceKey = os.Getenv(envName("price-api-key"))
	}
	if redisURL == "" {
		redisURL = os.Getenv(envName("redis-url"))
	}
	if feed == "http" && !f.isSet("price-interval") {
		priceInterval = time.Minute // a free API key allows a few calls a minute
	}

	// Logs are buffered (one write a tenth of a second instead of one per
	// request); warnings and errors are written at once.
	logOut := logbuf.New(os.Stderr, 100*time.Millisecond, 64<<10)
	defer logOut.Close()
	var handler slog.Handler = slog.NewTextHandler(logOut, nil)
	if logFormat == "json" || production {
		handler = slog.NewJSONHandler(logOut, nil)
	}
	log := slog.New(logbuf.Handler(handler, logOut, slog.LevelWarn))
	slog.SetDefault(log)
	if fileLimitErr != nil {
		log.Warn("open file limit", "soft", fileLimit.Soft, "hard", fileLimit.Hard, "err", fileLimitErr)
	} else {
		log.Info("open file limit", "soft", fileLimit.Soft, "hard", fileLimit.Hard, "soft_at_start", fileLimit.Before)
	}

	switch platform.Role(role) {
	case platform.RoleAll, platform.RoleGateway, platform.RoleUser, platform.RoleOrder, platform.RoleInventory:
	default:
		fmt.Fprintf(os.Stderr, "serve: --role %q: want all, gateway, user, order or inventory\n", role)
		return 2
	}
	if storeKind != "embedded" && storeKind != "dynamodb" {
		fmt.Fprintf(os.Stderr, "serve: --store %q: want embedded or dynamodb\n", storeKind)
		return 2
	}
	if role != "all" && os.Getenv("ORDERPROCESSOR_JWT_SECRET") == "" {
		fmt.Fprintln(os.Stderr, "serve: --role "+role+" needs ORDERPROCESSOR_JWT_SECRET, shared by the gateway and the services")
		return 2
	}
	if hashMemory < 0 || hashWait < 0 || accountFailures < 0 || registerLimit < 0 {
		fmt.Fprintln(os.Stderr, "serve: --password-hash-memory, --password-hash-wait, --login-account-max-failures and --register-limit must not be negative")
		return 2
	}
	tcfg := trading.DefaultConfig()
	for _, p := range []struct {
		name string
		text string
		dst  *decimal.Decimal
	}{{"deposit-daily-limit", deposit, &tcfg.DepositDailyLimit}, {"withdraw-daily-limit", withdraw, &tcfg.WithdrawDailyLimit}, {"fee-rate", fee, &tcfg.FeeRate}} {
		d, err := decimal.Parse(p.text)
		if err != nil || d.IsNegative() {
			fmt.Fprintf(os.Stderr, "serve: --%s %q is not a non-negative decimal\n", p.name, p.text)
			return 2
		}
		*p.dst = d
	}

	secret := os.Getenv("ORDERPROCESSOR_JWT_SECRET")
	switch {
	case secret == "" && production:
		fmt.Fprintln(os.Stderr, "serve: ORDERPROCESSOR_JWT_SECRET is required in production mode")
		return 2
	case secret == "":
		log.Warn("ORDERPROCESSOR_JWT_SECRET is not set: using a random secret; tokens die with this process")
	case len(secret) < 32:
		fmt.Fprintln(os.Stderr, "serve: ORDERPROCESSOR_JWT_SECRET must be at least 32 characters")
		return 2
	}

	gcfg := gateway.DefaultConfig()
	gcfg.RateLimit = rateLimit
	gcfg.LoginMaxFailures = loginFailures
	gcfg.LoginWindow, gcfg.LoginBlock = loginWindow, loginBlock
	gcfg.LoginAccountMaxFailures, gcfg.LoginAccountWindow = accountFailures, accountWindow
	gcfg.LoginAccountDelay, gcfg.LoginAccountMaxDelay = accountDelay, accountMaxDelay
	gcfg.RegisterLimit, gcfg.RegisterWindow = registerLimit, registerWindow
	gcfg.TrustProxy = trustProxy
	gcfg.NoMetrics = production || metricsAddr != ""
	if origins != "" && origins != "*" {
		gcfg.AllowedOrigins = strings.Split(origins, ",")
	}

	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var db store.Store
	tables := dao.DefaultTables
	if storeKind == "dynamodb" {
		cursors, err := platform.CursorCodec([]byte(secret))
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		ddb, t, err := dyn.open(ctx, cursors)
		if err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			return 1
		}
		db, tables = ddb, t // the platform closes it
	}
	p, err := platform.Open(ctx, platform.Config{
		Store: db, Tables: tables, Role: platform.Role(role), EngineInterval: engineInterval,
		Upstreams:       platform.Upstreams{User: userURL, Order: orderURL, Inventory: inventoryURL},
		UpstreamTimeout: upstreamTimeout, Breaker: proxy.BreakerConfig{FailureThreshold: breakerFailures, CoolDown: breakerCoolDown},
		DataDir: dataDir, SyncInterval: cmp.Or(syncInterval, -1), JWTSecret: []byte(secret), TokenLifetime: tokenTTL,
		TokenClockSkew: tokenSkew, AccountCacheTTL: accountTTL,
		AdminPassword: os.Getenv("ORDERPROCESSOR_ADMIN_PASSWORD"), Gateway: gcfg, Trading: tcfg,
		PriceFeed: feed, PriceInterval: priceInterval, PriceSeed: uint64(seed), Logger: log,
		PriceHTTP:         pricing.HTTPConfig{URL: priceURL, APIKey: priceKey, APIKeyHeader: priceKeyHeader},
		RedisURL:          redisURL,
		StreamMaxPerUser:  streamBound(streamPerUser),
		StreamMaxTotal:    streamBound(streamTotal),
		PasswordHashLimit: auth.HashLimit{Memory: int64(hashMemory) << 20, Wait: hashWait},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	defer func() {
		if err := p.Close(); err != nil {
			log.Error("close platform", "err", err)
		}
	}()

	if pprofAddr != "" {
		go servePprof(pprofAddr, log)
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	var metricsLn net.Listener
	if metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", metricsAddr); err != nil {
			_ = ln.Close()
			fmt.Fprintln(os.Stderr, "serve: --metrics-addr:", err)
			return 1
		}
	}
	srv := &http.Server{Handler: p.Handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	srv.RegisterOnShutdown(p.Stream.Close) // end the live streams, or Shutdown waits for them
	url := "http://" + displayAddr(ln.Addr())
	log.Info("orderprocessor listening", "addr", ln.Addr().String(), "role", role, "store", storeKind, "data_dir", dataDir, "price_feed", feed,
		"gomaxprocs", runtime.GOMAXPROCS(0), "stream_max_per_user", streamPerUser, "stream_max_total", streamTotal)
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
	case production:
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
