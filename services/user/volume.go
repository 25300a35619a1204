package user

import (
	"net/http"
	"strconv"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// VolumeQuery is the query of GET /api/v1/analytics/volume.
type VolumeQuery struct {
	AssetID  string `query:"asset_id" required:"true" maxLength:"10" doc:"the asset (1-10 letters or digits)"`
	Interval string `query:"interval" default:"1h" enum:"1m,1h,1d" doc:"bucket width: a UTC minute, hour or day"`
	From     string `query:"from" maxLength:"64" doc:"start of the range, RFC 3339 or YYYY-MM-DD (UTC), inclusive: the bucket that holds it is the first (default: to minus 60 minutes, 24 hours or 30 days by interval)"`
	To       string `query:"to" maxLength:"64" doc:"end of the range, RFC 3339 or YYYY-MM-DD (UTC), inclusive: the bucket that holds it is the last (default: now)"`
}

// VolumeFigures are the trading volume of a bucket or a range: the quantity
// traded, its notional in USD (quantity × execution price as each fill
// settles it, before fees, buys and sales alike) and the number of fills.
type VolumeFigures struct {
	Quantity string `json:"quantity"`
	Notional string `json:"notional"`
	Trades   int64  `json:"trades"`
}

// VolumeBucket is one bucket of a volume answer.
type VolumeBucket struct {
	Start entity.Time `json:"start"`
	VolumeFigures
}

// VolumeResponse is the body of GET /api/v1/analytics/volume.
type VolumeResponse struct {
	AssetID  string         `json:"asset_id"`
	Interval string         `json:"interval"`
	From     entity.Time    `json:"from"`
	To       entity.Time    `json:"to"`
	Buckets  []VolumeBucket `json:"buckets"`
	Total    VolumeFigures  `json:"total"`
	Currency string         `json:"currency"`
}

// VolumeRange is a parsed volume query range.
type VolumeRange struct {
	Interval dao.Interval
	From, To time.Time // From is the first bucket's start
}

// Buckets returns the number of buckets of r.
func (r VolumeRange) Buckets() int {
	if r.Interval == dao.Day {
		return int(r.To.Sub(r.From)/(24*time.Hour)) + 1
	}
	return int(r.To.Sub(r.From)/r.Interval.Duration()) + 1
}

// defaultWindow is the range of a query without from, by interval.
var defaultWindow = map[dao.Interval]time.Duration{dao.Minute: time.Hour, dao.Hour: 24 * time.Hour, dao.Day: 30 * 24 * time.Hour}

// earliest is the earliest time a range may start at.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseVolumeRange parses the interval ("" is 1h) and the from and to of
// a volume query ("" for their defaults; RFC 3339, or a UTC date) at now:
// an Invalid error with loc ["query", name] for an unknown interval, a
// malformed time, a time before 2000 or after 9999, from after to, or a
// range of more than dao.MaxBuckets buckets. The range's From is the start
// of the bucket that holds from; To is to.
func ParseVolumeRange(interval, from, to string, now time.Time) (VolumeRange, error) {
	i := dao.Interval(interval)
	switch i {
	case "":
		i = dao.Hour
	case dao.Minute, dao.Hour, dao.Day:
	default:
		return VolumeRange{}, queryInvalid("interval", "Input should be '1m', '1h' or '1d'", "enum")
	}
	end := now.UTC()
	if to != "" {
		t, err := parseQueryTime(to)
		if err != nil {
			return VolumeRange{}, queryInvalid("to", err.Error(), "value_error")
		}
		end = t
	}
	start := end.Add(-defaultWindow[i])
	if from != "" {
		t, err := parseQueryTime(from)
		if err != nil {
			return VolumeRange{}, queryInvalid("from", err.Error(), "value_error")
		}
		start = t
	}
	if start.After(end) {
		return VolumeRange{}, queryInvalid("from", "must not be after to", "value_error")
	}
	if start.Before(earliest) {
		start = earliest
	}
	r := VolumeRange{Interval: i, From: i.Truncate(start), To: end}
	if end.Sub(r.From) >= time.Duration(dao.MaxBuckets)*i.Duration() {
		return VolumeRange{}, queryInvalid("from", "the range spans more than "+strconv.Itoa(dao.MaxBuckets)+
			" buckets of this interval: narrow it or use a longer interval", "value_error")
	}
	return r, nil
}

// parseQueryTime parses an RFC 3339 time or a YYYY-MM-DD date (UTC
// midnight), from 2000 to 9999.
func parseQueryTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, apperr.New(apperr.Invalid, "must be an RFC 3339 time or a YYYY-MM-DD date")
		}
	}
	t = t.UTC()
	if t.Before(earliest) || t.Year() > 9999 {
		return time.Time{}, apperr.New(apperr.Invalid, "must be from 2000 to 9999")
	}
	return t, nil
}

func queryInvalid(name, msg, typ string) error {
	return &apperr.Error{Kind: apperr.Invalid, Message: "invalid query parameter " + name + ": " + msg,
		Fields: []apperr.FieldError{{Loc: []string{"query", name}, Msg: msg, Type: typ}}}
}

func (s *Service) registerVolume(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/analytics/volume", OperationID: "getVolume",
		Summary: "Trading volume of an asset in time buckets", Tags: []string{"analytics"}, Auth: httpapi.AuthUser,
		Description: "One bucket per UTC minute, hour or day from the bucket that holds `from` to the one that holds `to`, " +
			"every bucket of the range (zero when nothing traded), oldest first, at most 1500. " +
			"`quantity` is the quantity traded, `notional` its value in USD before fees (buys and sales alike), `trades` the number of fills. " +
			"Exact at the moment of the read (fills of the last minutes included); costs O(buckets).",
		Errors: []int{http.StatusNotFound}}, s.volume)
}

func (s *Service) volume(r *http.Request, q *VolumeQuery) (VolumeResponse, error) {
	id, err := entity.ValidateAssetID(q.AssetID, "query", "asset_id")
	if err != nil {
		return VolumeResponse{}, err
	}
	rg, err := ParseVolumeRange(q.Interval, q.From, q.To, s.now())
	if err != nil {
		return VolumeResponse{}, err
	}
	if _, err := s.trade.Asset(r.Context(), id); err != nil {
		return VolumeResponse{}, err
	}
	bs, err := s.trade.Volume(r.Context(), id, rg.Interval, rg.From, rg.To)
	if err != nil {
		return VolumeResponse{}, err
	}
	out := VolumeResponse{AssetID: id, Interval: string(rg.Interval), From: entity.At(rg.From), To: entity.At(rg.To),
		Buckets: make([]VolumeBucket, 0, len(bs)), Currency: string(entity.USD)}
	var total dao.Volume
	for _, b := range bs {
		total = total.Add(b.Volume)
		out.Buckets = append(out.Buckets, VolumeBucket{Start: entity.At(b.Start), VolumeFigures: figures(b.Volume)})
	}
	out.Total = figures(total)
	return out, nil
}

func figures(v dao.Volume) VolumeFigures {
	q := v.Quantity
	if v.Trades == 0 {
		q = decimal.Zero
	}
	return VolumeFigures{Quantity: q.String(), Notional: entity.USD.Format(v.Notional), Trades: v.Trades}
}
