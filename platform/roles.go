package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/proxy"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Role is the part of the system a process runs. RoleAll is the
// all-in-one deployment; the others form the microservice deployment, where
// every process shares one store (DynamoDB; the embedded store allows one
// process per data directory, so it only suits tests of a single role):
//
//   - RoleGateway: the gateway (authentication with revocation, rate limits,
//     login throttling, CORS, body limits, /health, /metrics) in front of
//     one reverse proxy (package proxy) per service, with the route table
//     and the OpenAPI document of all services. It needs no store; with one,
//     it reads token revocations (see StoreRevoker) and accounts (see
//     auth.AccountCache) from it and checks it for readiness.
//   - RoleUser: auth, profile, balances, ledger, portfolio, conversions.
//   - RoleOrder: orders and the live stream (GET /api/v1/stream), plus the
//     trigger engine. The order replicas share the sweeps by asset: each
//     sweeps the assets that fall to it among the live members of
//     EngineGroup.
//   - RoleInventory: the catalogue and the admin asset routes, plus the
//     price feed while it holds PriceFeedLease (one replica at a time); it
//     seeds the catalogue on first start. A deactivation
//     cancels the asset's resting orders in this process (through the
//     store).
//
// Events cross processes on the event bus (package eventbus, on Redis
// Streams) when Config.RedisURL is set: every process with a store
// publishes its committed events there (price changes from the inventory
// service; orders, deposits, withdrawals and conversions from the order and
// user services), and every order replica (and RoleAll) reads them all: its
// trigger engine is told of every price change at once, and its stream
// carries every event of the user, whichever process caused it, with ids
// that are the same on every replica, so a client resumes on any of them.
// Without Redis, the events of a process stay in it (stream.Broker): a
// RoleOrder engine then sees price changes at its periodic sweep
// (Config.EngineInterval, 5 s by default), which also publishes the changes
// it sees as the stream's price events, and its stream carries only the
// order service's own events. Either way the store is the truth and the
// sweep the safety net: a lost event delays a trigger to the sweep at
// worst.
//
// A service role serves its own operations, /openapi.json, /docs, /health,
// /health/live, /health/ready and /metrics through a gateway.Gateway with
// rate limits and login throttling off (the public gateway applies them)
// that authenticates bearer tokens itself: the public gateway forwards the
// client's Authorization header unchanged and no identity travels in any
// other header, so a service trusts only what the shared JWT secret proves,
// and refuses revoked tokens and those of deactivated users as the gateway
// does. Logout writes the revocation to the store (or Redis), where every
// process reads it; a deactivation reaches the other processes' account
// caches within Config.AccountCacheTTL.
type Role string

// The roles.
const (
	RoleAll       Role = "all"
	RoleGateway   Role = "gateway"
	RoleUser      Role = "user"
	RoleOrder     Role = "order"
	RoleInventory Role = "inventory"
)

// roleSpec is what a role runs: the routes it registers and the background
// workers it starts.
type roleSpec struct {
	// serves are the services whose routes the role serves itself, in
	// registration order.
	serves []Role
	// proxies: the role declares every service's routes, each handled by a
	// proxy to the service (Config.Upstreams), and needs no store.
	proxies bool
	// behindGateway: a service behind the public gateway, which limits
	// traffic and throttles logins for it (see Role).
	behindGateway bool
	// soleWriter: the only process writing token revocations to the store
	// (see newRevoker).
	soleWriter bool
	seeds      bool // seeds the catalogue on first start
	admin      bool // provisions the admin user (Config.AdminPassword)
	priceFeed  bool // runs the price feed (Config.PriceFeed)
	engine     engineMode
}

// engineMode is how a role runs the trigger engine.
type engineMode int

const (
	engineNone   engineMode = iota
	engineLive              // told of its own process's price changes at once
	engineRemote            // prices change in another process: told by the bus, or seen at the sweep
)

// roles are the roles' specs.
var roles = map[Role]roleSpec{
	RoleAll: {serves: []Role{RoleUser, RoleInventory, RoleOrder}, soleWriter: true,
		seeds: true, admin: true, priceFeed: true, engine: engineLive},
	RoleGateway:   {proxies: true},
	RoleUser:      {serves: []Role{RoleUser}, behindGateway: true, admin: true},
	RoleOrder:     {serves: []Role{RoleOrder}, behindGateway: true, engine: engineRemote},
	RoleInventory: {serves: []Role{RoleInventory}, behindGateway: true, seeds: true, priceFeed: true},
}

// services register the routes of each service role on an API.
type services map[Role]func(*httpapi.API)

// Upstreams are the base URLs of the services, e.g. "http://user:8080", or
// comma-separated lists of the URLs of a service's replicas, which the
// gateway takes turns at (proxy.Pool).
type Upstreams struct {
	User      string
	Order     string
	Inventory string
}

// upstream is a service role and its base URL.
type upstream struct {
	role Role
	url  string
}

// urls returns the URLs of the service's replicas.
func (u upstream) urls() []string {
	var out []string
	for _, url := range strings.Split(u.url, ",") {
		if url = strings.TrimSpace(url); url != "" {
			out = append(out, url)
		}
	}
	return out
}

// list returns the services' URLs in the gateway's order.
func (u Upstreams) list() []upstream {
	return []upstream{{RoleUser, u.User}, {RoleOrder, u.Order}, {RoleInventory, u.Inventory}}
}

func (p *Platform) startEngine(ctx context.Context, engine *trading.Engine) {
	p.Engine = engine
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		engine.Run(ctx)
	}()
}

// sweepPrices wraps the engine's price reader so that the prices it reads
// that differ from the previous read are published to the stream. The
// engine calls it from one goroutine.
func sweepPrices(read func(context.Context) (map[string]decimal.Decimal, error), broker *stream.Broker) func(context.Context) (map[string]decimal.Decimal, error) {
	last := map[string]decimal.Decimal{}
	return func(ctx context.Context) (map[string]decimal.Decimal, error) {
		prices, err := read(ctx)
		if err != nil {
			return nil, err
		}
		for id, price := range prices {
			if old, ok := last[id]; ok && !old.Equal(price) {
				broker.PublishPrice(id, price)
			}
			last[id] = price
		}
		return prices, nil
	}
}

// proxyAll declares on api every operation of the user, order and
// inventory services (read from the services' own declarations, so the
// route table and the OpenAPI document are those of RoleAll), each handled
// by the proxy to the service that owns it.
func proxyAll(api *httpapi.API, cfg Config, reg prometheus.Registerer, log *slog.Logger, svcs services) ([]*proxy.Proxy, error) {
	metrics, err := proxy.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	var proxies []*proxy.Proxy
	for _, up := range cfg.Upstreams.list() {
		urls := up.urls()
		members := make([]*proxy.Proxy, len(urls))
		for i, url := range urls {
			name := string(up.role)
			if len(urls) > 1 {
				name = fmt.Sprintf("%s-%d", up.role, i+1)
			}
			p, err := proxy.New(proxy.Options{Name: name, URL: url, Timeout: cfg.UpstreamTimeout,
				Breaker: cfg.Breaker, Metrics: metrics, Logger: log,
				// The gateway answers CORS; the service must not add its own.
				DropRequestHeaders: []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}})
			if err != nil {
				return nil, err
			}
			members[i] = p
		}
		proxies = append(proxies, members...)
		pool := proxy.NewPool(string(up.role), members...)
		decl := httpapi.New(httpapi.Options{NoDocs: true})
		svcs[up.role](decl)
		for _, op := range decl.Operations() {
			h := pool.ServeHTTP
			if op.Method == http.MethodGet && op.Path == stream.Path {
				h = limitStreams(cfg, pool)
			}
			api.Handle(op, h)
		}
	}
	return proxies, nil
}

// limitStreams bounds the streams the gateway proxies at once, per user and
// in all (Config.StreamMaxPerUser, StreamMaxTotal, with the defaults of
// stream.HandlerOptions): each holds one of the gateway's connections and
// one to an order replica, whose own bounds count only its share.
func limitStreams(cfg Config, next http.Handler) http.HandlerFunc {
	perUser, total := cfg.StreamMaxPerUser, cfg.StreamMaxTotal
	if perUser == 0 {
		perUser = stream.DefaultMaxPerUser
	}
	if total == 0 {
		total = stream.DefaultMaxTotal
	}
	limits := stream.NewLimits(perUser, total, stream.DefaultRetry)
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		release, err := limits.Acquire(p.Username)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	}
}
