package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
)

// Routes of the exchange rates.
const (
	PathFXRates     = "/api/v1/fx/rates"
	PathFXHistory   = "/api/v1/fx/rates/{pair}/history"
	PathAdminFXRate = "/api/v1/admin/fx/rates/{pair}"
)

// FX history page sizes.
const (
	DefaultFXHistoryLimit = 100
	MaxFXHistoryLimit     = 1000
)

// Rates is what the service needs of the stored exchange rates (dao.FXDAO).
type Rates interface {
	All(ctx context.Context) ([]*dao.FXRate, error)
	Set(ctx context.Context, c entity.Currency, rate decimal.Decimal, at time.Time, source string) (*dao.FXRate, error)
	History(ctx context.Context, c entity.Currency, from, to time.Time, limit int, cursor string) ([]dao.FXPoint, string, error)
}

var _ Rates = (*dao.FXDAO)(nil)

// RateChangeFunc is called after a rate change was stored (an admin set or
// a feed tick), in the caller's goroutine, like a PriceChangeFunc.
type RateChangeFunc func(ctx context.Context, r *dao.FXRate)

// FXRate is one rate of GET /api/v1/fx/rates.
type FXRate struct {
	Pair     string `json:"pair" doc:"<currency>-USD"`
	Currency string `json:"currency"`
	// Rate is the USD value of one unit of the currency; Inverse the
	// currency's value of one USD (10 places, half-even).
	Rate      string      `json:"rate"`
	Inverse   string      `json:"inverse"`
	UpdatedAt entity.Time `json:"updated_at"`
	Source    string      `json:"source"`
	Version   int64       `json:"version"`
	// Stale is true when the rate is older than the platform's bound
	// (--fx-max-age): conversions and orders at it are refused.
	Stale bool `json:"stale"`
}

// FXRatesResponse is the body of GET /api/v1/fx/rates.
type FXRatesResponse struct {
	Base  string   `json:"base"`
	Rates []FXRate `json:"rates"`
	// MaxAgeSeconds is the age beyond which a rate is stale (0: no bound).
	MaxAgeSeconds int64 `json:"max_age_seconds"`
	// ConversionSpread is the fraction of a conversion's mid-rate value
	// the platform keeps (--fx-spread), so that a client shows what a
	// conversion credits before it is made.
	ConversionSpread string `json:"conversion_spread"`
}

// FXPoint is one point of a rate's history.
type FXPoint struct {
	T      entity.Time `json:"t"`
	Rate   string      `json:"rate"`
	Source string      `json:"source"`
}

// FXHistoryResponse is the body of GET /api/v1/fx/rates/{pair}/history.
type FXHistoryResponse struct {
	Pair       string    `json:"pair"`
	Points     []FXPoint `json:"points"`
	NextCursor *string   `json:"next_cursor"`
}

// FXHistoryQuery is the query of the history route.
type FXHistoryQuery struct {
	From   *time.Time `query:"from" doc:"start of the range, RFC 3339, inclusive (default: 90 days before to)"`
	To     *time.Time `query:"to" doc:"end of the range, RFC 3339, inclusive (default: now)"`
	Limit  int        `query:"limit" default:"100" minimum:"1" maximum:"1000" doc:"page size"`
	Cursor string     `query:"cursor" maxLength:"2048" doc:"next_cursor of the previous page of the same query"`
}

// PairPath documents the {pair} wildcard.
type PairPath struct {
	Pair handlerkit.Pair `path:"pair" pattern:"^[A-Za-z]{3}[-_]?[A-Za-z]{3}$" doc:"a currency quoted against USD: EUR-USD, GBP-USD, JPY-USD, CHF-USD, CAD-USD or AUD-USD (also EURUSD or EUR_USD, any case)"`
}

type (
	fxHistoryIn struct {
		PairPath
		FXHistoryQuery
	}
	fxSetIn struct {
		PairPath
		Body entity.FXRateUpdate
	}
)

func (s *Service) registerFX(api *httpapi.API) {
	if s.rates == nil {
		return
	}
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodGet, Path: PathFXRates, OperationID: "listFXRates",
		Summary: "The current exchange rates against USD",
		Description: "One rate per supported currency other than USD: `rate` is the USD value of one unit (the pair `EUR-USD`). " +
			"Conversions and orders in another currency settle at these rates, moved by `conversion_spread` against the client; a rate older than `max_age_seconds` is `stale` and refused for them (503 `fx_rate_stale`).",
		Tags: []string{"fx"}, Auth: httpapi.AuthNone,
	}, s.handleFXRates)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodGet, Path: PathFXHistory, OperationID: "getFXRateHistory",
		Summary:     "The history of one exchange rate, newest first",
		Description: "Every stored rate (seed, admin set, feed tick) is a point, kept 90 days. Paged by `next_cursor` (null after the last page); a cursor is valid only for the query (pair, from, to) that made it.",
		Tags:        []string{"fx"}, Auth: httpapi.AuthNone,
	}, s.handleFXHistory)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodPut, Path: PathAdminFXRate, OperationID: "setFXRate",
		Summary:     "Set an exchange rate now (admin)",
		Description: "`{\"rate\": \"1.0850\"}`: the USD value of one unit of the pair's currency (> 0, at most 1,000,000, at most 10 decimals), stored with a history point in one transaction, observed now.",
		Tags:        []string{"admin"}, Auth: httpapi.AuthAdmin,
		Errors: []int{http.StatusConflict},
	}, s.handleSetFXRate)
}

func (s *Service) fxRate(r *dao.FXRate, now time.Time) FXRate {
	inv := ""
	if q, err := decimal.FromInt(1).Quo(r.Rate, entity.FXRateScale, decimal.HalfEven); err == nil {
		inv = q.String()
	}
	return FXRate{Pair: entity.PairName(r.Currency), Currency: string(r.Currency), Rate: r.Rate.String(), Inverse: inv,
		UpdatedAt: entity.At(r.At), Source: r.Source, Version: r.Version,
		Stale: s.rateMaxAge > 0 && now.Sub(r.At) > s.rateMaxAge}
}

func (s *Service) handleFXRates(r *http.Request, _ *struct{}) (FXRatesResponse, error) {
	all, err := s.rates.All(r.Context())
	if err != nil {
		return FXRatesResponse{}, err
	}
	now := s.now()
	out := FXRatesResponse{Base: string(entity.USD), Rates: make([]FXRate, 0, len(all)), MaxAgeSeconds: int64(s.rateMaxAge / time.Second),
		ConversionSpread: s.spread.String()}
	for _, rt := range all {
		out.Rates = append(out.Rates, s.fxRate(rt, now))
	}
	return out, nil
}

func (s *Service) handleFXHistory(r *http.Request, in *fxHistoryIn) (FXHistoryResponse, error) {
	c := entity.Currency(in.Pair)
	q := in.FXHistoryQuery
	to := s.now()
	if q.To != nil {
		to = *q.To
	}
	from := to.Add(-dao.FXHistoryTTL)
	if q.From != nil {
		from = *q.From
	}
	if from.After(to) {
		return FXHistoryResponse{}, queryInvalid("from", "must not be after to", "value_error")
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultFXHistoryLimit
	}
	points, next, err := s.rates.History(r.Context(), c, from, to, min(max(limit, 1), MaxFXHistoryLimit), q.Cursor)
	if errors.Is(err, page.ErrInvalidCursor) {
		return FXHistoryResponse{}, &apperr.Error{Kind: apperr.Invalid, Message: "invalid cursor", Err: err,
			Fields: []apperr.FieldError{{Loc: []string{"query", "cursor"}, Msg: "Invalid cursor: use the next_cursor of the previous page of the same query", Type: "value_error"}}}
	}
	if err != nil {
		return FXHistoryResponse{}, err
	}
	out := FXHistoryResponse{Pair: entity.PairName(c), Points: make([]FXPoint, 0, len(points))}
	for _, p := range points {
		out.Points = append(out.Points, FXPoint{T: entity.At(p.At), Rate: p.Rate.String(), Source: p.Source})
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

func (s *Service) handleSetFXRate(r *http.Request, in *fxSetIn) (FXRate, error) {
	if err := in.Body.Validate(); err != nil {
		return FXRate{}, err
	}
	admin := ""
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		admin = p.Username
	}
	now := s.now()
	rt, err := s.SetRate(r.Context(), entity.Currency(in.Pair), *in.Body.Rate, now, "admin:"+admin)
	if err != nil {
		return FXRate{}, err
	}
	s.audit(r, "fx: rate set", "pair", entity.PairName(rt.Currency), "rate", rt.Rate.String())
	return s.fxRate(rt, now), nil
}

// SetRate stores rate as currency c's rate observed at `at` by source and
// reports the change to the rate hooks.
func (s *Service) SetRate(ctx context.Context, c entity.Currency, rate decimal.Decimal, at time.Time, source string) (*dao.FXRate, error) {
	if s.rates == nil {
		return nil, errors.New("inventory: no exchange rates configured")
	}
	rt, err := s.rates.Set(ctx, c, rate, at, source)
	if err != nil {
		return nil, err
	}
	if s.onRate != nil {
		s.onRate(ctx, rt)
	}
	return rt, nil
}

// RateSource returns the source a rate feed moves (pricing.Run): the
// stored rates as "prices" keyed by currency code, and the ticks stored as
// rates observed now, with the source "feed" (or "feed:<holder>" under
// dao.WithPriceWriter).
func (s *Service) RateSource() pricing.Source { return rateSource{s} }

type rateSource struct{ s *Service }

// Prices returns the stored rates by currency code.
func (r rateSource) Prices(ctx context.Context) (map[string]decimal.Decimal, error) {
	all, err := r.s.rates.All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]decimal.Decimal, len(all))
	for _, rt := range all {
		out[string(rt.Currency)] = rt.Rate
	}
	return out, nil
}

// ApplyTicks stores each tick as its currency's rate, observed now.
func (r rateSource) ApplyTicks(ctx context.Context, ticks []pricing.Tick) error {
	source := "feed"
	if w := dao.PriceWriter(ctx); w != "" {
		source += ":" + w
	}
	now := r.s.now()
	var errs []error
	for _, t := range ticks {
		c, ok := entity.ParseCurrency(t.AssetID)
		if !ok || c == entity.USD {
			continue
		}
		if _, err := r.s.SetRate(ctx, c, t.Price.Round(entity.FXRateScale, decimal.HalfEven), now, source); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
		}
	}
	return errors.Join(errs...)
}
