package user

import (
	"net/http"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
)

// PnLAsset is the profit and loss of one asset, by the average-cost method
// of entity.Position: buy fees are part of the cost basis, sell fees reduce
// the proceeds. The cost basis and unrealized P&L are the portfolio's.
type PnLAsset struct {
	AssetID       string `json:"asset_id"`
	Quantity      string `json:"quantity"`
	CostBasis     string `json:"cost_basis"`
	AverageCost   string `json:"average_cost"`
	CurrentPrice  string `json:"current_price"`
	MarketValue   string `json:"market_value"`
	RealizedPnL   string `json:"realized_pnl"`
	UnrealizedPnL string `json:"unrealized_pnl"`
	FeesPaid      string `json:"fees_paid"`
	Bought        string `json:"bought_quantity"`
	Sold          string `json:"sold_quantity"`
}

// PnLQuery is the query of GET /api/v1/analytics/pnl.
type PnLQuery struct {
	Currency string `query:"currency" maxLength:"3" doc:"ISO 4217 code of the currency of every amount (default USD), converted at the current stored rate"`
}

type pnlIn struct{ PnLQuery }

// PnLResponse is the caller's P&L per asset and in total, in USD or the
// asked currency.
type PnLResponse struct {
	Assets          []PnLAsset `json:"assets"`
	TotalRealized   string     `json:"total_realized_pnl"`
	TotalUnrealized string     `json:"total_unrealized_pnl"`
	TotalFees       string     `json:"total_fees_paid"`
	Currency        string     `json:"currency"`
}

// SummaryResponse is the platform's activity, for admins. The completed
// notional of an asset is the value its completed orders traded before fees
// (quantity × executed price as the fill settles it: entity.FillGross), buys
// and sales alike.
type SummaryResponse struct {
	Users           int               `json:"users"`
	ActiveUsers24h  int               `json:"active_users_24h"`
	Orders          int               `json:"orders"`
	OrdersByType    map[string]int    `json:"orders_by_type"`
	OrdersByStatus  map[string]int    `json:"orders_by_status"`
	NotionalByAsset map[string]string `json:"completed_notional_by_asset"`
	OpenOrders      int               `json:"open_orders"`
	Generated       entity.Time       `json:"generated_at"`
}

func (s *Service) registerAnalytics(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/analytics/pnl", OperationID: "getPnL",
		Summary: "The caller's realized and unrealized P&L per asset", Tags: []string{"analytics"}, Auth: httpapi.AuthUser,
		Description: "Average-cost method, kept per holding with each fill: buy fees are part of the cost basis, sell fees reduce the proceeds; unrealized at the current price. Reads one item per asset held, whatever the history. " +
			"Amounts are in USD, or in the currency of `currency` (an unsupported one is 422) at the current stored exchange rate."},
		handlerkit.WithCaller(s.pnl))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/admin/analytics/summary", OperationID: "getAnalyticsSummary",
		Summary: "Order counts by type and status, completed notional per asset, users", Tags: []string{"admin"},
		Auth: httpapi.AuthAdmin, Description: "Reads the whole orders table: an operator's tool, not a dashboard to poll. " +
			"One whole-store read (this or the ledger verification) runs at a time: another is answered 429 with Retry-After.",
		Errors: []int{http.StatusTooManyRequests}}, oneAtATime(s.whole, s.summary))
}

func (s *Service) pnl(r *http.Request, p auth.Principal, in *pnlIn) (PnLResponse, error) {
	val, _, err := s.valuationRates(r.Context(), in.Currency)
	if err != nil {
		return PnLResponse{}, err
	}
	hs, err := s.trade.Holdings(r.Context(), p.Username)
	if err != nil {
		return PnLResponse{}, err
	}
	out := PnLResponse{Assets: make([]PnLAsset, 0, len(hs)), Currency: string(val.c)}
	totalR, totalU, totalF := decimal.Zero, decimal.Zero, decimal.Zero
	usd := val.money       // amounts in the valuation's currency
	for _, h := range hs { // by asset id
		asset, err := s.trade.Asset(r.Context(), h.AssetID)
		if err != nil {
			return PnLResponse{}, err
		}
		pos := h.Position()
		value := pos.Quantity.Mul(asset.PriceUSD)
		unrealized := value.Sub(pos.CostBasis)
		totalR, totalU, totalF = totalR.Add(pos.Realized), totalU.Add(unrealized), totalF.Add(pos.Fees)
		out.Assets = append(out.Assets, PnLAsset{AssetID: h.AssetID, Quantity: pos.Quantity.String(), CostBasis: usd(pos.CostBasis),
			AverageCost: val.price(pos.AverageCost()), CurrentPrice: val.price(asset.PriceUSD), MarketValue: usd(value),
			RealizedPnL: usd(pos.Realized), UnrealizedPnL: usd(unrealized), FeesPaid: usd(pos.Fees),
			Bought: pos.Bought.String(), Sold: pos.Sold.String()})
	}
	out.TotalRealized, out.TotalUnrealized, out.TotalFees = usd(totalR), usd(totalU), usd(totalF)
	return out, nil
}

func (s *Service) summary(r *http.Request, _ *struct{}) (SummaryResponse, error) {
	ctx := r.Context()
	out := SummaryResponse{OrdersByType: map[string]int{}, OrdersByStatus: map[string]int{},
		NotionalByAsset: map[string]string{}, Generated: entity.At(s.now())}
	if err := s.trade.Usernames(ctx, func(string) error { out.Users++; return nil }); err != nil {
		return SummaryResponse{}, err
	}
	since := entity.At(s.now().Add(-24 * time.Hour))
	active := map[string]bool{}
	notional := map[string]decimal.Decimal{}
	err := s.trade.ScanOrders(ctx, func(o *entity.Order) error {
		out.Orders++
		out.OrdersByType[string(o.OrderType)]++
		out.OrdersByStatus[string(o.Status)]++
		if o.Status.IsOpen() {
			out.OpenOrders++
		}
		if o.Status == entity.StatusCompleted {
			notional[o.AssetID] = notional[o.AssetID].Add(o.NotionalUSD())
		}
		if o.CreatedAt.After(since.Time) {
			active[o.Username] = true
		}
		return nil
	})
	if err != nil {
		return SummaryResponse{}, err
	}
	for id, n := range notional {
		out.NotionalByAsset[id] = entity.USD.Format(n)
	}
	out.ActiveUsers24h = len(active)
	return out, nil
}
