package pricing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// FXRatePlaces is the number of decimal places provider exchange rates are
// rounded to (half-even).
const FXRatePlaces = 10

// FXHTTPConfig configures an FXHTTP feed.
type FXHTTPConfig struct {
	// URL is the API base, e.g. "https://api.frankfurter.app"; the feed GETs
	// URL + "/latest". Required, http or https.
	URL string
	// Timeout bounds one poll (DefaultHTTPTimeout when 0).
	Timeout time.Duration
	// MaxBodyBytes bounds one response body (64 KiB when 0).
	MaxBodyBytes int64
	// Client sends the requests (a client that follows no redirects when nil).
	Client *http.Client
}

// FXHTTP is a feed of exchange rates that polls an API of the shape of
// frankfurter.app or exchangerate.host, one request per currency:
//
//	GET {URL}/latest?base=<CUR>&symbols=USD
//
// answered by a JSON object {"base": "<CUR>", "rates": {"USD": <number>}}
// (other members, such as "amount" and "date", are ignored): the USD value
// of one unit of the currency. The current "prices" it moves are the stored
// rates keyed by currency code; it returns a tick per currency whose
// answer it could read, with the rate parsed exactly from its JSON text and
// rounded half-even to FXRatePlaces places. An answer for another base, or
// without a positive USD rate, is an error for that currency; failures
// (transport, timeouts, non-200 answers, oversized or malformed bodies)
// produce no tick for the currency concerned, whose rate stays as it was
// (and ages: the money flows refuse a rate older than their bound).
// FXHTTP is safe for concurrent use.
type FXHTTP struct {
	endpoint string
	timeout  time.Duration
	maxBody  int64
	client   *http.Client
}

// NewFXHTTP returns an FXHTTP feed; an error when cfg.URL is not an
// absolute http(s) URL.
func NewFXHTTP(cfg FXHTTPConfig) (*FXHTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("fx feed URL %q: want an absolute http(s) URL without query", cfg.URL)
	}
	h := &FXHTTP{endpoint: strings.TrimSuffix(u.String(), "/") + "/latest", timeout: cfg.Timeout, maxBody: cfg.MaxBodyBytes, client: cfg.Client}
	if h.timeout <= 0 {
		h.timeout = DefaultHTTPTimeout
	}
	if h.maxBody <= 0 {
		h.maxBody = 64 << 10
	}
	if h.client == nil {
		h.client = noRedirectClient()
	}
	return h, nil
}

// Next polls the provider for every currency of current (other than USD),
// in code order, and returns a tick per currency it could read, with an
// error joining whatever failed.
func (h *FXHTTP) Next(ctx context.Context, current map[string]decimal.Decimal) ([]Tick, error) {
	var codes []string
	for c := range current {
		if c != "USD" {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var ticks []Tick
	var errs []error
	for _, c := range codes {
		rate, err := h.fetch(ctx, c)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		ticks = append(ticks, Tick{AssetID: c, Price: rate})
	}
	return ticks, errors.Join(errs...)
}

// fxAnswer is the provider's answer; the rates stay raw JSON.
type fxAnswer struct {
	Base  string                     `json:"base"`
	Rates map[string]json.RawMessage `json:"rates"`
}

// fetch GETs the USD value of one unit of code.
func (h *FXHTTP) fetch(ctx context.Context, code string) (decimal.Decimal, error) {
	q := url.Values{}
	q.Set("base", code)
	q.Set("symbols", "USD")
	body, err := getJSON(ctx, h.client, h.endpoint+"?"+q.Encode(), nil, h.maxBody)
	if err != nil {
		return decimal.Zero, fmt.Errorf("fx feed: %s: %w", code, err)
	}
	return ParseFXAnswer(code, body)
}

// ParseFXAnswer returns the USD rate of an FXHTTP answer body for base
// code: rates.USD, exact from its JSON text, rounded half-even to
// FXRatePlaces places; an error when the body is not such an object, names
// another base, or has no positive USD rate.
func ParseFXAnswer(code string, body []byte) (decimal.Decimal, error) {
	var a fxAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return decimal.Zero, fmt.Errorf("fx feed: %s: body is not a JSON object: %w", code, err)
	}
	if !strings.EqualFold(a.Base, code) {
		return decimal.Zero, fmt.Errorf("fx feed: %s: answer for base %q", code, clip(json.RawMessage(a.Base)))
	}
	raw, ok := a.Rates["USD"]
	if !ok {
		return decimal.Zero, fmt.Errorf("fx feed: %s: no USD rate", code)
	}
	d, err := number(raw)
	if err != nil || d == nil {
		return decimal.Zero, fmt.Errorf("fx feed: %s: USD rate %s: not a number", code, clip(raw))
	}
	r := d.Round(FXRatePlaces, decimal.HalfEven)
	if !r.IsPositive() {
		return decimal.Zero, fmt.Errorf("fx feed: %s: USD rate %s: not positive", code, clip(raw))
	}
	return r, nil
}
