package inventory

import (
	"context"
	"net/http"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// PathHistory is the price history route.
const PathHistory = "/api/v1/inventory/assets/{asset_id}/history"

// History intervals: raw points, or OHLC buckets of a minute, an hour or a
// day (UTC boundaries).
const (
	IntervalRaw    = "raw"
	IntervalMinute = "minute"
	IntervalHour   = "hour"
	IntervalDay    = "day"
)

// History limits.
const (
	// DefaultHistoryWindow is the range when from is absent (to minus it).
	DefaultHistoryWindow = 24 * time.Hour
	// MaxRawPoints is the most points of a raw answer (the most recent ones).
	MaxRawPoints = 1000
	// MaxHistoryBuckets is the most buckets a bucketed range may span.
	MaxHistoryBuckets = 2000
	// MaxHistoryScan is the most points a bucketed answer reads.
	MaxHistoryScan = 50_000
)

var bucketSize = map[string]time.Duration{
	IntervalMinute: time.Minute, IntervalHour: time.Hour, IntervalDay: 24 * time.Hour,
}

// HistoryQuery is the query of GET /api/v1/inventory/assets/{asset_id}/history.
type HistoryQuery struct {
	From     *time.Time `query:"from" doc:"start of the range, RFC 3339, inclusive (default: to minus 24 hours)"`
	To       *time.Time `query:"to" doc:"end of the range, RFC 3339, inclusive (default: now)"`
	Interval string     `query:"interval" default:"raw" enum:"raw,minute,hour,day" doc:"raw points, or OHLC per UTC minute, hour or day"`
}

// HistoryPoint is one point of a history answer: t and price for raw
// points; t (the bucket's start) and open, high, low, close for buckets.
// Prices are JSON numbers, like the other inventory routes.
type HistoryPoint struct {
	T     entity.Time     `json:"t"`
	Price *decimal.Number `json:"price,omitempty"`
	Open  *decimal.Number `json:"open,omitempty"`
	High  *decimal.Number `json:"high,omitempty"`
	Low   *decimal.Number `json:"low,omitempty"`
	Close *decimal.Number `json:"close,omitempty"`
}

// HistoryResponse is the body of the history route.
type HistoryResponse struct {
	AssetID  string         `json:"asset_id"`
	Interval string         `json:"interval"`
	From     entity.Time    `json:"from"`
	To       entity.Time    `json:"to"`
	Points   []HistoryPoint `json:"points"`
	// Truncated is true when the range holds more than an answer carries:
	// the answer then covers the most recent part of the range.
	Truncated bool `json:"truncated"`
}

func (s *Service) registerHistory(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodGet, Path: PathHistory, OperationID: "getAssetPriceHistory",
		Summary: "Price history of an asset (for charts)",
		Description: "Every stored price change (admin set, feed tick, the asset's creation) is a point. " +
			"`interval=raw` returns the points with `from <= t <= to`, oldest first, at most 1000 (the most recent ones; `truncated` says when more exist). " +
			"`minute`, `hour` and `day` return one OHLC bucket per UTC period that has points (`t` is the bucket's start, `open` its first point, `close` its last); " +
			"a range may span at most 2000 buckets. Default range: the 24 hours up to now.",
		Tags: []string{"inventory"}, Auth: httpapi.AuthNone,
		Errors: []int{http.StatusNotFound},
	}, s.handleHistory)
}

// historyIn is the input of the history route.
type historyIn struct {
	AssetPath
	HistoryQuery
}

func (s *Service) handleHistory(r *http.Request, in *historyIn) (*HistoryResponse, error) {
	return s.History(r.Context(), string(in.AssetID), in.HistoryQuery)
}

// History returns the price history of asset id (normalised) for q (see the
// route's description). Errors: Invalid (loc ["query", ...]) for an unknown
// interval, from after to, or a range of more than MaxHistoryBuckets buckets;
// NotFound for an unknown asset.
func (s *Service) History(ctx context.Context, id string, q HistoryQuery) (*HistoryResponse, error) {
	interval := q.Interval
	if interval == "" {
		interval = IntervalRaw
	}
	size, bucketed := bucketSize[interval]
	if !bucketed && interval != IntervalRaw {
		return nil, queryInvalid("interval", "Input should be 'raw', 'minute', 'hour' or 'day'", "enum")
	}
	to := entity.At(s.now())
	if q.To != nil {
		to = entity.At(*q.To)
	}
	from := entity.At(to.Add(-DefaultHistoryWindow))
	if q.From != nil {
		from = entity.At(*q.From)
	}
	if from.After(to.Time) {
		return nil, queryInvalid("from", "must not be after to", "value_error")
	}
	if bucketed && to.Truncate(size).Sub(from.Truncate(size))/size+1 > MaxHistoryBuckets {
		return nil, queryInvalid("interval", "the range spans more than 2000 buckets of this interval: narrow it or use a longer interval", "value_error")
	}
	if _, err := s.assets.Get(ctx, id); err != nil {
		return nil, err
	}
	limit := MaxRawPoints
	if bucketed {
		limit = s.historyScan
	}
	points, truncated, err := s.assets.PriceHistory(ctx, id, from.Time, to.Time, limit)
	if err != nil {
		return nil, err
	}
	resp := &HistoryResponse{AssetID: id, Interval: interval, From: from, To: to, Truncated: truncated}
	if !bucketed {
		resp.Points = make([]HistoryPoint, 0, len(points))
		for _, p := range points {
			price := decimal.Num(p.Price)
			resp.Points = append(resp.Points, HistoryPoint{T: entity.At(p.At), Price: &price})
		}
		return resp, nil
	}
	if truncated && len(points) > 0 {
		// The oldest bucket read may lack its earlier points: leave it out.
		first := points[0].At.Truncate(size)
		for len(points) > 0 && points[0].At.Truncate(size).Equal(first) {
			points = points[1:]
		}
	}
	resp.Points = ohlc(points, size)
	return resp, nil
}

// ohlc folds points (oldest first) into one bucket per period of size that
// has points.
func ohlc(points []dao.PricePoint, size time.Duration) []HistoryPoint {
	out := []HistoryPoint{}
	var start time.Time
	var open, high, low, last decimal.Decimal
	flush := func() {
		o, h, l, c := decimal.Num(open), decimal.Num(high), decimal.Num(low), decimal.Num(last)
		out = append(out, HistoryPoint{T: entity.At(start), Open: &o, High: &h, Low: &l, Close: &c})
	}
	for i, p := range points {
		b := p.At.Truncate(size)
		if i == 0 || !b.Equal(start) {
			if i > 0 {
				flush()
			}
			start, open, high, low = b, p.Price, p.Price, p.Price
		}
		high, low, last = decimal.Max(high, p.Price), decimal.Min(low, p.Price), p.Price
	}
	if len(points) > 0 {
		flush()
	}
	return out
}

func queryInvalid(name, msg, typ string) error {
	return &apperr.Error{Kind: apperr.Invalid, Message: "invalid query parameter " + name + ": " + msg,
		Fields: []apperr.FieldError{{Loc: []string{"query", name}, Msg: msg, Type: typ}}}
}
