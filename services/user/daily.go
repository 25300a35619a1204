package user

import (
	"maps"
	"net/http"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// DailyQuery is the query of GET /api/v1/admin/analytics/daily.
type DailyQuery struct {
	From string `query:"from" maxLength:"64" doc:"first day, YYYY-MM-DD or an RFC 3339 time in it (UTC; default: 30 days before to)"`
	To   string `query:"to" maxLength:"64" doc:"last day, YYYY-MM-DD or an RFC 3339 time in it (UTC; default: now)"`
}

// DailyFigures are the platform's activity of one UTC day.
type DailyFigures struct {
	Date string `json:"date"`
	// Notional is the USD value of the day's fills before fees, buys and
	// sales alike; Trades the number of fills.
	Notional string `json:"notional"`
	Trades   int64  `json:"trades"`
	// ActiveUsers is the number of users who placed an order that day.
	ActiveUsers int64 `json:"active_users"`
	// Orders is the number of orders placed that day, by type and by
	// status once placed (completed: executed at once; queued: resting;
	// cancelled: an ioc or fok order that was not marketable).
	Orders         int64            `json:"orders"`
	OrdersByType   map[string]int64 `json:"orders_by_type"`
	OrdersByStatus map[string]int64 `json:"orders_by_status"`
}

// DailyResponse is the body of GET /api/v1/admin/analytics/daily.
type DailyResponse struct {
	From     string         `json:"from"`
	To       string         `json:"to"`
	Days     []DailyFigures `json:"days"`
	Currency string         `json:"currency"`
}

func (s *Service) registerDaily(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/admin/analytics/daily", OperationID: "getDailyAnalytics",
		Summary: "Platform volume, active users and orders per UTC day", Tags: []string{"admin"}, Auth: httpapi.AuthAdmin,
		Description: "Every day of the range, oldest first (at most 1500): the notional (USD, before fees) and number of the day's fills, " +
			"the users who placed an order, and the orders placed by type and by status once placed. " +
			"Read from the platform's daily volume buckets: O(days), exact at the moment of the read. " +
			"`orders_by_type` counts what the `orderprocessor_orders_total` metric counts with `outcome=\"placed\"`, summed over the processes."},
		s.daily)
}

func (s *Service) daily(r *http.Request, q *DailyQuery) (DailyResponse, error) {
	rg, err := ParseVolumeRange(string(dao.Day), q.From, q.To, s.now())
	if err != nil {
		return DailyResponse{}, err
	}
	bs, err := s.trade.Volume(r.Context(), dao.PlatformAsset, dao.Day, rg.From, rg.To)
	if err != nil {
		return DailyResponse{}, err
	}
	out := DailyResponse{From: rg.From.Format(time.DateOnly), To: rg.To.Format(time.DateOnly),
		Days: make([]DailyFigures, 0, len(bs)), Currency: string(entity.USD)}
	for _, b := range bs {
		f := DailyFigures{Date: b.Start.Format(time.DateOnly), Notional: entity.USD.Format(b.Notional), Trades: b.Trades,
			ActiveUsers: b.Active(), OrdersByType: b.PlacedByType(), OrdersByStatus: b.PlacedByStatus()}
		for n := range maps.Values(f.OrdersByType) {
			f.Orders += n
		}
		out.Days = append(out.Days, f)
	}
	return out, nil
}
