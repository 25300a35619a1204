package pricing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Defaults and limits of the HTTP feed.
const (
	// DefaultAPIKeyHeader is CoinGecko's header for demo API keys (pro keys
	// use "x-cg-pro-api-key").
	DefaultAPIKeyHeader = "x-cg-demo-api-key"
	// DefaultHTTPTimeout bounds one poll (all its requests, bodies included).
	DefaultHTTPTimeout = 10 * time.Second
	// DefaultMaxBodyBytes bounds one response body.
	DefaultMaxBodyBytes = 2 << 20
	// MaxPerPage is the most coins one markets request asks for (CoinGecko's
	// per_page limit); more coins take several requests per poll.
	MaxPerPage = 250
	// HTTPPricePlaces is the number of decimal places provider prices are
	// rounded to (half-even), the most an asset price may have.
	HTTPPricePlaces = 8
	// MaxRetryAfter caps how long a 429's Retry-After pauses polling.
	MaxRetryAfter = time.Hour
)

// DefaultCoinGeckoIDs returns a new map from the seeded catalogue's asset ids
// (package catalog) to CoinGecko coin ids.
func DefaultCoinGeckoIDs() map[string]string {
	return map[string]string{
		"BTC": "bitcoin", "ETH": "ethereum", "USDT": "tether", "BNB": "binancecoin",
		"SOL": "solana", "USDC": "usd-coin", "XRP": "ripple", "DOGE": "dogecoin",
		"TON": "the-open-network", "ADA": "cardano", "AVAX": "avalanche-2", "TRX": "tron",
		"DOT": "polkadot", "LINK": "chainlink", "MATIC": "matic-network", "LTC": "litecoin",
		"BCH": "bitcoin-cash", "SHIB": "shiba-inu", "UNI": "uniswap", "ATOM": "cosmos",
		"XLM": "stellar", "NEAR": "near", "APT": "aptos", "FIL": "filecoin",
	}
}

// HTTPConfig configures an HTTP feed.
type HTTPConfig struct {
	// URL is the API base, e.g. "https://api.coingecko.com/api/v3"; the feed
	// GETs URL + "/coins/markets". Required, http or https.
	URL string
	// APIKey, when set, is sent in the APIKeyHeader header (never logged).
	APIKey string
	// APIKeyHeader is the API key's header (DefaultAPIKeyHeader when empty).
	APIKeyHeader string
	// IDs maps our asset ids (upper case) to provider coin ids
	// (DefaultCoinGeckoIDs when nil). Assets without an entry are not polled.
	IDs map[string]string
	// Timeout bounds one poll (DefaultHTTPTimeout when 0).
	Timeout time.Duration
	// MaxBodyBytes bounds one response body (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// Client sends the requests (a client that follows no redirects when
	// nil, so that the API key never leaves for another host).
	Client *http.Client
	// Now is the clock of the Retry-After pause (time.Now when nil).
	Now func() time.Time
}

// HTTP is a feed that polls a CoinGecko-compatible markets endpoint:
//
//	GET {URL}/coins/markets?vs_currency=usd&ids=<id,id,...>&per_page=<n>&page=1
//
// answered by a JSON array of objects with "id", "symbol", "current_price"
// and optionally "market_cap", "total_volume", "high_24h", "low_24h",
// "price_change_24h" and "price_change_percentage_24h". Numbers are parsed
// exactly from their JSON text (never through float64); prices are then
// rounded half-even to HTTPPricePlaces places.
//
// A row belongs to the asset whose configured coin id is the row's "id", or
// else to the asset named by its upper-cased "symbol"; only assets in the
// current prices (the active catalogue) get ticks, and rows for anything
// else are ignored. A row without a positive price is skipped; a negative
// market cap, volume, high or low is dropped from the tick's market data.
//
// Failures (transport errors, timeouts, non-200 answers, oversized or
// malformed bodies) are returned by Next as errors and produce no ticks for
// the coins concerned, so their prices stay as they were. A 429 answer with
// a Retry-After pauses polling for that long (at most MaxRetryAfter).
// HTTP is safe for concurrent use.
type HTTP struct {
	endpoint string
	apiKey   string
	header   string
	ids      map[string]string // asset id -> coin id
	byCoin   map[string]string // coin id -> asset id
	timeout  time.Duration
	maxBody  int64
	client   *http.Client
	now      func() time.Time

	mu        sync.Mutex
	notBefore time.Time
}

// NewHTTP returns an HTTP feed; an error when cfg.URL is not an absolute
// http(s) URL or an id map entry is empty.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("price feed URL %q: want an absolute http(s) URL without query", cfg.URL)
	}
	h := &HTTP{
		endpoint: strings.TrimSuffix(u.String(), "/") + "/coins/markets",
		apiKey:   cfg.APIKey, header: cfg.APIKeyHeader,
		timeout: cfg.Timeout, maxBody: cfg.MaxBodyBytes, client: cfg.Client, now: cfg.Now,
		ids: map[string]string{}, byCoin: map[string]string{},
	}
	if h.header == "" {
		h.header = DefaultAPIKeyHeader
	}
	if h.timeout <= 0 {
		h.timeout = DefaultHTTPTimeout
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.client == nil {
		h.client = noRedirectClient()
	}
	if h.now == nil {
		h.now = time.Now
	}
	ids := cfg.IDs
	if ids == nil {
		ids = DefaultCoinGeckoIDs()
	}
	for asset, coin := range ids {
		asset, coin = strings.ToUpper(strings.TrimSpace(asset)), strings.TrimSpace(coin)
		if asset == "" || coin == "" || strings.Contains(coin, ",") {
			return nil, fmt.Errorf("price feed id map: bad entry %q -> %q", asset, coin)
		}
		h.ids[asset] = coin
		h.byCoin[coin] = asset
	}
	return h, nil
}

// ErrPaused is returned by Next while a provider's Retry-After lasts.
var ErrPaused = errors.New("price feed paused by the provider's Retry-After")

// Next polls the provider for the assets of current that have a coin id and
// returns a tick for each row it could read (see HTTP for the rules), in
// asset id order, with an error joining whatever failed.
func (h *HTTP) Next(ctx context.Context, current map[string]decimal.Decimal) ([]Tick, error) {
	h.mu.Lock()
	paused := h.now().Before(h.notBefore)
	h.mu.Unlock()
	if paused {
		return nil, ErrPaused
	}
	var coins []string
	for asset := range current {
		if coin, ok := h.ids[asset]; ok {
			coins = append(coins, coin)
		}
	}
	if len(coins) == 0 {
		return nil, nil
	}
	slices.Sort(coins)
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	got := map[string]Tick{}
	var errs []error
	for chunk := range slices.Chunk(coins, MaxPerPage) {
		rows, err := h.fetch(ctx, chunk)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil || errors.Is(err, ErrPaused) {
				break
			}
			continue
		}
		for _, r := range rows {
			if err := h.tick(r, current, got); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ticks := make([]Tick, 0, len(got))
	for _, t := range got {
		ticks = append(ticks, t)
	}
	slices.SortFunc(ticks, func(a, b Tick) int { return strings.Compare(a.AssetID, b.AssetID) })
	return ticks, errors.Join(errs...)
}

// marketRow is one element of the markets answer; numbers stay raw JSON.
type marketRow struct {
	ID                       string          `json:"id"`
	Symbol                   string          `json:"symbol"`
	CurrentPrice             json.RawMessage `json:"current_price"`
	MarketCap                json.RawMessage `json:"market_cap"`
	TotalVolume              json.RawMessage `json:"total_volume"`
	High24h                  json.RawMessage `json:"high_24h"`
	Low24h                   json.RawMessage `json:"low_24h"`
	PriceChange24h           json.RawMessage `json:"price_change_24h"`
	PriceChangePercentage24h json.RawMessage `json:"price_change_percentage_24h"`
}

// fetch GETs one page of markets for coins.
func (h *HTTP) fetch(ctx context.Context, coins []string) ([]json.RawMessage, error) {
	q := url.Values{}
	q.Set("vs_currency", "usd")
	q.Set("ids", strings.Join(coins, ","))
	q.Set("per_page", strconv.Itoa(len(coins)))
	q.Set("page", "1")
	var header map[string]string
	if h.apiKey != "" {
		header = map[string]string{h.header: h.apiKey}
	}
	body, err := getJSON(ctx, h.client, h.endpoint+"?"+q.Encode(), header, h.maxBody)
	var status *statusError
	if errors.As(err, &status) && status.code == http.StatusTooManyRequests {
		if d, ok := retryAfter(status.header.Get("Retry-After"), h.now()); ok {
			h.mu.Lock()
			h.notBefore = h.now().Add(d)
			h.mu.Unlock()
			return nil, fmt.Errorf("price feed: %s: status 429, retry after %s: %w", h.endpoint, d, ErrPaused)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("price feed: %w", err)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("price feed: %s: body is not a JSON array: %w", h.endpoint, err)
	}
	return rows, nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at MaxRetryAfter.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if n <= 0 {
			return 0, false
		}
		d = time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}

// tick turns one row into a tick in got (keyed by asset id; the first row
// for an asset wins) when it belongs to an asset of current.
func (h *HTTP) tick(raw json.RawMessage, current map[string]decimal.Decimal, got map[string]Tick) error {
	var r marketRow
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("price feed: skipped a malformed row: %w", err)
	}
	asset, ok := h.byCoin[r.ID]
	if !ok {
		asset = strings.ToUpper(r.Symbol)
	}
	if _, ok := current[asset]; !ok {
		return nil // not one of ours (or not active)
	}
	if _, dup := got[asset]; dup {
		return nil
	}
	price, err := number(r.CurrentPrice)
	if err != nil || price == nil {
		return fmt.Errorf("price feed: %s: current_price %s: not a number", asset, clip(r.CurrentPrice))
	}
	p := price.Round(HTTPPricePlaces, decimal.HalfEven)
	if !p.IsPositive() {
		return fmt.Errorf("price feed: %s: current_price %s: not positive", asset, clip(r.CurrentPrice))
	}
	m := &Market{
		MarketCap:                nonNegative(r.MarketCap),
		TotalVolume24h:           nonNegative(r.TotalVolume),
		High24h:                  nonNegative(r.High24h),
		Low24h:                   nonNegative(r.Low24h),
		PriceChange24h:           optional(r.PriceChange24h),
		PriceChangePercentage24h: optional(r.PriceChangePercentage24h),
	}
	if *m == (Market{}) {
		m = nil
	}
	got[asset] = Tick{AssetID: asset, Price: p, Market: m}
	return nil
}

// number parses a JSON number (or a string holding one) exactly; nil for
// an absent or null value.
func number(raw json.RawMessage) (*decimal.Decimal, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var d decimal.Decimal
	if err := d.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return &d, nil
}

// optional is number, with nil for anything unreadable.
func optional(raw json.RawMessage) *decimal.Decimal {
	d, err := number(raw)
	if err != nil {
		return nil
	}
	return d
}

// nonNegative is optional, with nil for a negative value.
func nonNegative(raw json.RawMessage) *decimal.Decimal {
	d := optional(raw)
	if d == nil || d.IsNegative() {
		return nil
	}
	return d
}

// clip returns raw for an error message, at most 40 bytes of it.
func clip(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	if len(raw) == 0 {
		return "(absent)"
	}
	return string(raw)
}
