package user

import (
	"context"
	"net/http"
	"sort"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// BalanceQuery selects the currency of GET /balance.
type BalanceQuery struct {
	Currency string `query:"currency" default:"USD" maxLength:"3" doc:"ISO 4217 code"`
}

// BalancesResponse lists every balance of the caller.
type BalancesResponse struct {
	Balances []entity.BalanceResponse `json:"balances"`
}

// CashResponse is the body of a deposit or withdrawal.
type CashResponse struct {
	Success       bool        `json:"success"`
	Message       string      `json:"message"`
	TransactionID string      `json:"transaction_id"`
	Amount        string      `json:"amount"`
	Currency      string      `json:"currency"`
	Timestamp     entity.Time `json:"timestamp"`
}

// TransactionsQuery pages the ledger.
type TransactionsQuery struct {
	Limit           int    `query:"limit" default:"50" minimum:"1" maximum:"100"`
	Offset          int    `query:"offset" default:"0" minimum:"0" maximum:"10000"`
	Cursor          string `query:"cursor" maxLength:"2048" doc:"next_cursor of the previous page"`
	TransactionType string `query:"transaction_type" enum:"deposit,withdraw,order_payment,order_sale,order_refund,order_hold,system_adjustment,currency_conversion"`
	Currency        string `query:"currency" maxLength:"3"`
}

// MaxCountScan bounds the ledger entries one GET /balance/transactions
// reads to count them (as many as one page of the list reads at most):
// total_count counts the matching entries among the newest 5,000.
const MaxCountScan = 5000

// TransactionsResponse is a page of the ledger, newest first. TotalCount is
// the number of matching entries among the newest MaxCountScan.
type TransactionsResponse struct {
	Transactions []entity.TransactionResponse `json:"transactions"`
	TotalCount   int                          `json:"total_count"`
	NextCursor   *string                      `json:"next_cursor"`
}

// AssetPath is the path parameter of asset routes.
type AssetPath struct {
	AssetID handlerkit.AssetID `path:"asset_id" doc:"1-10 letters or digits, any case" pattern:"^[A-Za-z0-9]{1,10}$"`
}

// Inputs of the cash routes.
type (
	balanceIn      struct{ BalanceQuery }
	depositIn      struct{ Body entity.DepositRequest }
	withdrawIn     struct{ Body entity.WithdrawRequest }
	transactionsIn struct{ TransactionsQuery }
)

// PortfolioAsset is one holding in the portfolio.
type PortfolioAsset struct {
	AssetID       string `json:"asset_id"`
	AssetName     string `json:"asset_name"`
	Quantity      string `json:"quantity"`
	HeldQuantity  string `json:"held_quantity"`
	CurrentPrice  string `json:"current_price"`
	MarketValue   string `json:"market_value"`
	Percentage    string `json:"percentage"`
	AverageCost   string `json:"average_cost"`
	CostBasis     string `json:"cost_basis"`
	UnrealizedPnL string `json:"unrealized_pnl"`
}

// PortfolioResponse is the caller's holdings and cash, valued in USD.
type PortfolioResponse struct {
	Assets            []PortfolioAsset         `json:"assets"`
	Cash              []entity.BalanceResponse `json:"cash"`
	TotalValue        string                   `json:"total_value"`
	AssetsValue       string                   `json:"assets_value"`
	CashValue         string                   `json:"cash_value"`
	TotalUnrealized   string                   `json:"total_unrealized_pnl"`
	ValuationCurrency string                   `json:"valuation_currency"`
}

func (s *Service) registerMoney(api *httpapi.API) {
	idem := []httpapi.Header{handlerkit.IdempotencyDoc}
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/balance", OperationID: "getBalance",
		Summary: "The caller's balance in one currency", Tags: []string{"balances"}, Auth: httpapi.AuthUser},
		handlerkit.WithCaller(s.getBalance))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/balances", OperationID: "listBalances",
		Summary: "All of the caller's balances", Tags: []string{"balances"}, Auth: httpapi.AuthUser},
		handlerkit.WithCaller(s.listBalances))
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/balance/deposit", OperationID: "deposit",
		Summary: "Deposit cash", Tags: []string{"balances"}, Auth: httpapi.AuthUser, Headers: idem,
		Description: "Within the daily deposit limit, which is in USD and counts the deposits of the UTC day in every currency at their USD value (the conversion rates).",
		Response:    CashResponse{}, Status: http.StatusCreated, Errors: []int{409}}, handlerkit.WithCaller(s.deposit))
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/balance/withdraw", OperationID: "withdraw",
		Summary: "Withdraw cash", Tags: []string{"balances"}, Auth: httpapi.AuthUser, Headers: idem,
		Description: "Within the available balance and the daily withdrawal limit, which is in USD and counts the withdrawals of the UTC day in every currency at their USD value (the conversion rates).",
		Response:    CashResponse{}, Status: http.StatusCreated, Errors: []int{409}}, handlerkit.WithCaller(s.withdraw))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/balance/transactions", OperationID: "listTransactions",
		Summary: "The caller's ledger, newest first", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		Description: "total_count counts the matching entries among the newest 5,000."},
		handlerkit.WithCaller(s.listTransactions))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/balance/asset/{asset_id}", OperationID: "getAssetBalance",
		Summary: "The caller's holding of one asset", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		Errors: []int{404}}, handlerkit.WithCaller(s.getAssetBalance))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/portfolio", OperationID: "getPortfolio",
		Summary: "The caller's holdings and cash, valued at current prices", Tags: []string{"portfolio"},
		Auth: httpapi.AuthUser, Description: "Values in USD, or in the currency of `currency` (an unsupported one is 422): every price, value and cost " +
			"is converted at the current stored exchange rate (`GET /api/v1/fx/rates`); cash in every currency counts at the stored rates."},
		handlerkit.WithCaller(s.getPortfolio))
}

// errCurrency answers a currency query parameter that names no supported currency.
var errCurrency = &apperr.Error{Kind: apperr.Invalid, Message: "currency: unsupported currency",
	Fields: []apperr.FieldError{{Loc: []string{"query", "currency"}, Msg: "unsupported currency", Type: entity.TypeEnum}}}

func (s *Service) getBalance(r *http.Request, p auth.Principal, in *balanceIn) (entity.BalanceResponse, error) {
	c, valid := entity.ParseCurrency(in.Currency)
	if !valid {
		return entity.BalanceResponse{}, errCurrency
	}
	b, err := s.trade.Balance(r.Context(), p.Username, c)
	if apperr.Is(err, apperr.NotFound) {
		// A currency never used is an empty balance, not an error.
		b, err = entity.NewBalance(p.Username, c, entity.At(s.now())), nil
	}
	if err != nil {
		return entity.BalanceResponse{}, err
	}
	return b.Response(), nil
}

func (s *Service) listBalances(r *http.Request, p auth.Principal, _ *struct{}) (BalancesResponse, error) {
	bs, err := s.trade.Balances(r.Context(), p.Username)
	if err != nil {
		return BalancesResponse{}, err
	}
	out := BalancesResponse{Balances: make([]entity.BalanceResponse, 0, len(bs))}
	for _, b := range bs {
		out.Balances = append(out.Balances, b.Response())
	}
	return out, nil
}

func cashResponse(tx *entity.BalanceTransaction) CashResponse {
	amt := tx.Amount.Abs()
	money := tx.Currency.Format(amt) + " " + string(tx.Currency)
	if tx.Currency == entity.USD {
		money = "$" + tx.Currency.Format(amt)
	}
	msg := "Successfully deposited " + money
	if tx.TransactionType == entity.TxWithdraw {
		msg = "Successfully withdrew " + money
	}
	return CashResponse{Success: true, Message: msg, TransactionID: tx.TransactionID,
		Amount: tx.Currency.Format(amt), Currency: string(tx.Currency), Timestamp: tx.CreatedAt}
}

func (s *Service) deposit(r *http.Request, p auth.Principal, in *depositIn) (*handlerkit.Result[CashResponse], error) {
	return s.cash(r, p, in.Body, entity.TxDeposit)
}

func (s *Service) withdraw(r *http.Request, p auth.Principal, in *withdrawIn) (*handlerkit.Result[CashResponse], error) {
	return s.cash(r, p, entity.DepositRequest(in.Body), entity.TxWithdraw) // the same fields and rules
}

func (s *Service) cash(r *http.Request, p auth.Principal, req entity.DepositRequest, typ entity.TransactionType) (*handlerkit.Result[CashResponse], error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	idem, err := handlerkit.Idempotency(r, req, http.StatusCreated,
		func(v any) any { return cashResponse(v.(*entity.BalanceTransaction)) })
	if err != nil {
		return nil, err
	}
	var tx *entity.BalanceTransaction
	var rep *trading.Replay
	if typ == entity.TxDeposit {
		tx, rep, err = s.trade.Deposit(r.Context(), p.Username, req, s.trade.Idem(p.Username, string(typ), idem))
	} else {
		tx, rep, err = s.trade.Withdraw(r.Context(), p.Username, entity.WithdrawRequest(req), s.trade.Idem(p.Username, string(typ), idem))
	}
	if rep != nil || err != nil {
		return outcome[CashResponse](rep, err)
	}
	return &handlerkit.Result[CashResponse]{Body: cashResponse(tx)}, nil
}

func (s *Service) listTransactions(r *http.Request, p auth.Principal, in *transactionsIn) (TransactionsResponse, error) {
	q := in.TransactionsQuery
	f := dao.TxFilter{Type: entity.TransactionType(q.TransactionType)}
	if q.Currency != "" {
		c, valid := entity.ParseCurrency(q.Currency)
		if !valid {
			return TransactionsResponse{}, errCurrency
		}
		f.Currency = c
	}
	pg, err := page.Read(page.Request{Offset: q.Offset, Limit: q.Limit, Cursor: q.Cursor},
		func(limit int, cursor string) ([]*entity.BalanceTransaction, string, error) {
			f.Limit, f.Cursor = limit, cursor
			return s.trade.Transactions(r.Context(), p.Username, f)
		})
	if err != nil {
		return TransactionsResponse{}, err
	}
	total, err := s.trade.CountTransactions(r.Context(), p.Username, f, MaxCountScan)
	if err != nil {
		return TransactionsResponse{}, err
	}
	out := TransactionsResponse{Transactions: make([]entity.TransactionResponse, 0, len(pg.Items)), TotalCount: total, NextCursor: pg.NextCursor()}
	for _, t := range pg.Items {
		out.Transactions = append(out.Transactions, t.Response())
	}
	return out, nil
}

func (s *Service) getAssetBalance(r *http.Request, p auth.Principal, in *AssetPath) (entity.HoldingResponse, error) {
	id := string(in.AssetID)
	h, err := s.trade.Holding(r.Context(), p.Username, id)
	if err != nil {
		return entity.HoldingResponse{}, err
	}
	a, err := s.trade.Asset(r.Context(), id)
	if err != nil {
		return entity.HoldingResponse{}, err
	}
	return h.Response(a), nil
}

var hundred = decimal.FromInt(100)

// PortfolioQuery is the query of GET /api/v1/portfolio.
type PortfolioQuery struct {
	Currency string `query:"currency" maxLength:"3" doc:"ISO 4217 code of the valuation currency (default USD): every value, price and cost is converted at the current stored rate"`
}

type portfolioIn struct{ PortfolioQuery }

// valuation converts USD values into the currency of a valuation, at the
// stored rate rate (the currency's USD value; 1 for USD, which converts
// nothing).
type valuation struct {
	c    entity.Currency
	rate decimal.Decimal
}

// money returns the USD value usd in v's currency, rounded half-even to
// its places.
func (v valuation) money(usd decimal.Decimal) string {
	if v.c == entity.USD {
		return entity.USD.Format(usd.Round(2, decimal.HalfEven))
	}
	d, err := usd.Quo(v.rate, v.c.Scale(), decimal.HalfEven)
	if err != nil {
		return v.c.Format(decimal.Zero)
	}
	return v.c.Format(d)
}

// price returns the USD price p in v's currency (PriceScale places).
func (v valuation) price(p decimal.Decimal) string {
	if v.c == entity.USD {
		return entity.FormatPrice(p)
	}
	d, err := p.Quo(v.rate, entity.PriceScale, decimal.HalfEven)
	if err != nil {
		return entity.FormatPrice(decimal.Zero)
	}
	return entity.FormatPrice(d)
}

// valuationRates returns the stored rates and the valuation in the
// currency named by code (USD when empty): errCurrency for an unsupported
// currency, fx_rate_stale for one without a stored rate.
func (s *Service) valuationRates(ctx context.Context, code string) (valuation, pricing.FXRates, error) {
	c := entity.USD
	if code != "" {
		var ok bool
		if c, ok = entity.ParseCurrency(code); !ok {
			return valuation{}, nil, errCurrency
		}
	}
	rates, err := s.trade.ValuationRates(ctx)
	if err != nil {
		return valuation{}, nil, err
	}
	rate, ok := rates[string(c)]
	if !ok || !rate.IsPositive() {
		return valuation{}, nil, apperr.New(apperr.RateStale, "no exchange rate is stored for %s; retry later", c)
	}
	return valuation{c: c, rate: rate}, rates, nil
}

func (s *Service) getPortfolio(r *http.Request, p auth.Principal, in *portfolioIn) (PortfolioResponse, error) {
	ctx := r.Context()
	val, rates, err := s.valuationRates(ctx, in.Currency)
	if err != nil {
		return PortfolioResponse{}, err
	}
	hs, err := s.trade.Holdings(ctx, p.Username)
	if err != nil {
		return PortfolioResponse{}, err
	}
	bs, err := s.trade.Balances(ctx, p.Username)
	if err != nil {
		return PortfolioResponse{}, err
	}
	type row struct {
		h     *dao.HoldingRecord
		a     *entity.Asset
		value decimal.Decimal
	}
	var rows []row
	assetsValue, unrealized := decimal.Zero, decimal.Zero
	for _, h := range hs {
		if h.Quantity.IsZero() {
			continue
		}
		a, err := s.trade.Asset(ctx, h.AssetID)
		if err != nil {
			return PortfolioResponse{}, err
		}
		v := h.Quantity.Mul(a.PriceUSD)
		assetsValue = assetsValue.Add(v)
		unrealized = unrealized.Add(v.Sub(h.CostBasis))
		rows = append(rows, row{h, a, v})
	}
	cashValue := decimal.Zero
	out := PortfolioResponse{Assets: make([]PortfolioAsset, 0, len(rows)), Cash: make([]entity.BalanceResponse, 0, len(bs)), ValuationCurrency: string(val.c)}
	for _, b := range bs {
		out.Cash = append(out.Cash, b.Response())
		// Cash in other currencies counts at the stored rates (exact until
		// the one rounding of the totals).
		if rate, ok := rates[string(b.Currency)]; ok {
			cashValue = cashValue.Add(b.CurrentBalance.Mul(rate))
		}
	}
	total := assetsValue.Add(cashValue)
	sort.Slice(rows, func(i, j int) bool { return rows[i].value.GreaterThan(rows[j].value) })
	for _, rw := range rows {
		pct := decimal.Zero
		if total.IsPositive() {
			if q, err := rw.value.Mul(hundred).Quo(total, 2, decimal.HalfEven); err == nil {
				pct = q
			}
		}
		out.Assets = append(out.Assets, PortfolioAsset{
			AssetID: rw.h.AssetID, AssetName: rw.a.Name, Quantity: rw.h.Quantity.String(),
			HeldQuantity: rw.h.HeldQuantity.String(), CurrentPrice: val.price(rw.a.PriceUSD),
			MarketValue: val.money(rw.value), Percentage: pct.StringFixed(2),
			AverageCost: val.price(rw.h.AverageCost), CostBasis: val.money(rw.h.CostBasis),
			UnrealizedPnL: val.money(rw.value.Sub(rw.h.CostBasis)),
		})
	}
	out.TotalValue = val.money(total)
	out.AssetsValue = val.money(assetsValue)
	out.CashValue = val.money(cashValue)
	out.TotalUnrealized = val.money(unrealized)
	return out, nil
}
