package user

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/store"
)

// PnLAsset is the profit and loss of one asset, by the average-cost method,
// fees included (a buy's cost is what was paid; a sale's proceeds what was
// received).
type PnLAsset struct {
	AssetID       string `json:"asset_id"`
	Quantity      string `json:"quantity"`
	CostBasis     string `json:"cost_basis"`
	AverageCost   string `json:"average_cost"`
	CurrentPrice  string `json:"current_price"`
	MarketValue   string `json:"market_value"`
	RealizedPnL   string `json:"realized_pnl"`
	UnrealizedPnL string `json:"unrealized_pnl"`
	Bought        string `json:"bought_quantity"`
	Sold          string `json:"sold_quantity"`
}

// PnLResponse is the caller's P&L per asset and in total, in USD.
type PnLResponse struct {
	Assets          []PnLAsset `json:"assets"`
	TotalRealized   string     `json:"total_realized_pnl"`
	TotalUnrealized string     `json:"total_unrealized_pnl"`
	Currency        string     `json:"currency"`
}

// SummaryResponse is the platform's activity, for admins.
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
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/analytics/pnl", OperationID: "getPnL",
		Summary: "The caller's realized and unrealized P&L per asset", Tags: []string{"analytics"}, Auth: httpapi.AuthUser,
		Description: "Average-cost method over the caller's asset movements, fees included; unrealized at the current price.",
		Response:    PnLResponse{}}, s.pnl)
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/admin/analytics/summary", OperationID: "getAnalyticsSummary",
		Summary: "Order counts by type and status, completed notional per asset, users", Tags: []string{"admin"},
		Auth: httpapi.AuthAdmin, Description: "Reads the whole orders table: an operator's tool, not a dashboard to poll.",
		Response: SummaryResponse{}}, s.summary)
}

func (s *Service) pnl(w http.ResponseWriter, r *http.Request) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	moves, err := s.d.AssetTxs.All(r.Context(), p.Username)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	type acc struct{ qty, cost, realized, bought, sold decimal.Decimal }
	byAsset := map[string]*acc{}
	var ids []string
	for _, m := range moves { // per asset, in time order (ids are sortable)
		a := byAsset[m.AssetID]
		if a == nil {
			a = &acc{}
			byAsset[m.AssetID] = a
			ids = append(ids, m.AssetID)
		}
		switch m.TransactionType {
		case entity.AssetBuy:
			a.qty, a.cost, a.bought = a.qty.Add(m.Quantity), a.cost.Add(m.TotalAmount), a.bought.Add(m.Quantity)
		case entity.AssetSell:
			out := a.cost
			if m.Quantity.LessThan(a.qty) {
				if c, err := a.cost.Mul(m.Quantity).Quo(a.qty, 10, decimal.HalfEven); err == nil {
					out = c
				}
			}
			a.realized = a.realized.Add(m.TotalAmount.Sub(out))
			a.qty, a.cost, a.sold = a.qty.Sub(m.Quantity), a.cost.Sub(out), a.sold.Add(m.Quantity)
		}
	}
	sort.Strings(ids)
	out := PnLResponse{Assets: make([]PnLAsset, 0, len(ids)), Currency: "USD"}
	totalR, totalU := decimal.Zero, decimal.Zero
	usd := func(d decimal.Decimal) string { return entity.USD.Format(d.Round(2, decimal.HalfEven)) }
	for _, id := range ids {
		a := byAsset[id]
		asset, err := s.d.Assets.Get(r.Context(), id)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		value := a.qty.Mul(asset.PriceUSD)
		unrealized := value.Sub(a.cost)
		avg := decimal.Zero
		if a.qty.IsPositive() {
			avg, _ = a.cost.Quo(a.qty, entity.PriceScale, decimal.HalfEven)
		}
		totalR, totalU = totalR.Add(a.realized), totalU.Add(unrealized)
		out.Assets = append(out.Assets, PnLAsset{AssetID: id, Quantity: a.qty.String(), CostBasis: usd(a.cost),
			AverageCost: entity.FormatPrice(avg), CurrentPrice: entity.FormatPrice(asset.PriceUSD), MarketValue: usd(value),
			RealizedPnL: usd(a.realized), UnrealizedPnL: usd(unrealized), Bought: a.bought.String(), Sold: a.sold.String()})
	}
	out.TotalRealized, out.TotalUnrealized = usd(totalR), usd(totalU)
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) summary(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	out := SummaryResponse{OrdersByType: map[string]int{}, OrdersByStatus: map[string]int{},
		NotionalByAsset: map[string]string{}, Generated: entity.At(s.now())}
	if err := s.d.Analytics.Usernames(ctx, func(string) error { out.Users++; return nil }); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	since := entity.At(s.now().Add(-24 * time.Hour))
	active := map[string]bool{}
	notional := map[string]decimal.Decimal{}
	cursor := ""
	for {
		page, err := s.d.Store.Scan(ctx, store.Scan{Table: s.d.Tables.Orders, Limit: 1000, Cursor: cursor})
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		for _, it := range page.Items {
			if !strings.HasPrefix(it.Str(store.AttrSK), "ORDER#") {
				continue // a client order id guard
			}
			o, err := s.d.Orders.Decode(it)
			if err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			out.Orders++
			out.OrdersByType[string(o.OrderType)]++
			out.OrdersByStatus[string(o.Status)]++
			if o.Status.IsOpen() {
				out.OpenOrders++
			}
			if o.Status == entity.StatusCompleted {
				notional[o.AssetID] = notional[o.AssetID].Add(o.TotalAmount)
			}
			if o.CreatedAt.After(since.Time) {
				active[o.Username] = true
			}
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	for id, n := range notional {
		out.NotionalByAsset[id] = entity.USD.Format(n)
	}
	out.ActiveUsers24h = len(active)
	httpapi.WriteJSON(w, http.StatusOK, out)
}
