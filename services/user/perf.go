package user

import (
	"net/http"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
)

// MaxPerformanceDays bounds the range of GET /analytics/performance.
const MaxPerformanceDays = 366

// PerformanceQuery is the query of GET /api/v1/analytics/performance.
type PerformanceQuery struct {
	From string `query:"from" maxLength:"64" doc:"first day, YYYY-MM-DD or an RFC 3339 time in it (UTC; default: 30 days before to)"`
	To   string `query:"to" maxLength:"64" doc:"last day, YYYY-MM-DD or an RFC 3339 time in it (UTC; default: today)"`
}

// PerformanceDay is one UTC day of GET /analytics/performance.
type PerformanceDay struct {
	Date string `json:"date"`
	// Value is the portfolio's USD value at the end of the day: cash at the
	// day's last stored exchange rates, holdings at the asset's last price
	// of the day.
	Value string `json:"value"`
	// NetFlow is the USD value of the day's deposits, withdrawals and
	// adjustments, at the same rates; Return the day's return net of them
	// (a fraction).
	NetFlow     string `json:"net_flow"`
	Return      string `json:"return"`
	RealizedPnL string `json:"realized_pnl"`
	Fills       int64  `json:"fills"`
	Notional    string `json:"notional"`
	Orders      int64  `json:"orders_placed"`
}

// OrderStats are the orders placed over a range, by type and by status once
// placed, and the fills.
type OrderStats struct {
	Placed   int64            `json:"placed"`
	ByType   map[string]int64 `json:"by_type"`
	ByStatus map[string]int64 `json:"by_status"`
	Fills    int64            `json:"fills"`
	Notional string           `json:"notional"`
}

// PerformanceResponse is the body of GET /api/v1/analytics/performance.
type PerformanceResponse struct {
	From       string           `json:"from"`
	To         string           `json:"to"`
	StartValue string           `json:"start_value"`
	Days       []PerformanceDay `json:"days"`
	// TimeWeightedReturn is the product of the days' (1 + return), minus 1
	// (a fraction, 8 places).
	TimeWeightedReturn string `json:"time_weighted_return"`
	// RealizedPnL is the range's; UnrealizedPnL and TotalRealizedPnL are
	// the positions' now (as GET /analytics/pnl).
	RealizedPnL      string     `json:"realized_pnl"`
	UnrealizedPnL    string     `json:"unrealized_pnl"`
	TotalRealizedPnL string     `json:"total_realized_pnl"`
	Orders           OrderStats `json:"orders"`
	Currency         string     `json:"currency"`
}

func (s *Service) registerPerformance(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/analytics/performance", OperationID: "getPerformance",
		Summary: "The caller's daily portfolio value, time-weighted return, P&L and order statistics over a range",
		Tags:    []string{"analytics"}, Auth: httpapi.AuthUser,
		Description: "Every UTC day of the range (at most 366): the portfolio's USD value at the end of the day (cash at the day's last stored exchange rates, " +
			"holdings at the asset's last price of the day; the current rates and prices today), the day's external flows (deposits, withdrawals, adjustments) " +
			"at the same rates, its return net of them, " +
			"its realized P&L, fills and orders placed; the time-weighted return of the range (the product of the days' 1 + return, minus 1), " +
			"the range's realized P&L, the unrealized P&L now, and the orders placed by type and by status once placed. " +
			"Read from the caller's daily buckets, which every transaction that moves the caller's money writes: O(days × assets held)."},
		handlerkit.WithCaller(s.performance))
}

func (s *Service) performance(r *http.Request, p auth.Principal, q *PerformanceQuery) (PerformanceResponse, error) {
	rg, err := ParseVolumeRange(string(dao.Day), q.From, q.To, s.now())
	if err != nil {
		return PerformanceResponse{}, err
	}
	if rg.Buckets() > MaxPerformanceDays {
		return PerformanceResponse{}, queryInvalid("from", "the range spans more than 366 days", "value_error")
	}
	perf, err := s.trade.Performance(r.Context(), p.Username, rg.From, rg.To)
	if err != nil {
		return PerformanceResponse{}, err
	}
	usd := func(d decimal.Decimal) string { return entity.USD.Format(d.Round(2, decimal.HalfEven)) }
	out := PerformanceResponse{From: perf.From.Format(time.DateOnly), To: perf.To.Format(time.DateOnly), StartValue: usd(perf.StartValue),
		Days: make([]PerformanceDay, 0, len(perf.Days)), TimeWeightedReturn: perf.TWR.StringFixed(8), Currency: string(entity.USD),
		Orders: OrderStats{ByType: map[string]int64{}, ByStatus: map[string]int64{}}}
	realized, notional := decimal.Zero, decimal.Zero
	for _, d := range perf.Days {
		out.Days = append(out.Days, PerformanceDay{Date: d.Day.Format(time.DateOnly), Value: usd(d.Value), NetFlow: usd(d.NetFlow),
			Return: d.Return.Round(8, decimal.HalfEven).StringFixed(8), RealizedPnL: usd(d.Realized), Fills: d.Fills,
			Notional: usd(d.Notional), Orders: d.Placed})
		realized, notional = realized.Add(d.Realized), notional.Add(d.Notional)
		out.Orders.Placed += d.Placed
		out.Orders.Fills += d.Fills
		for k, n := range d.ByType {
			out.Orders.ByType[k] += n
		}
		for k, n := range d.ByStatus {
			out.Orders.ByStatus[k] += n
		}
	}
	out.RealizedPnL, out.Orders.Notional = usd(realized), usd(notional)
	hs, err := s.trade.Holdings(r.Context(), p.Username)
	if err != nil {
		return PerformanceResponse{}, err
	}
	unrealized, total := decimal.Zero, decimal.Zero
	for _, h := range hs {
		pos := h.Position()
		total = total.Add(pos.Realized)
		if pos.Quantity.IsZero() {
			continue
		}
		a, err := s.trade.Asset(r.Context(), h.AssetID)
		if err != nil {
			return PerformanceResponse{}, err
		}
		unrealized = unrealized.Add(pos.Quantity.Mul(a.PriceUSD).Sub(pos.CostBasis))
	}
	out.UnrealizedPnL, out.TotalRealizedPnL = usd(unrealized), usd(total)
	return out, nil
}
