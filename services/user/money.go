package user

import (
	"net/http"
	"sort"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
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
	AssetID string `path:"asset_id" doc:"1-10 letters or digits, any case" pattern:"^[A-Za-z0-9]{1,10}$"`
}

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
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/balance", OperationID: "getBalance",
		Summary: "The caller's balance in one currency", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		Query: BalanceQuery{}, Response: entity.BalanceResponse{}}, s.getBalance)
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/balances", OperationID: "listBalances",
		Summary: "All of the caller's balances", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		Response: BalancesResponse{}}, s.listBalances)
	api.Handle(httpapi.Op{Method: "POST", Path: "/api/v1/balance/deposit", OperationID: "deposit",
		Summary: "Deposit cash", Tags: []string{"balances"}, Auth: httpapi.AuthUser, Headers: idem,
		Description: "Within the daily deposit limit, which is in USD and counts the deposits of the UTC day in every currency at their USD value (the conversion rates).",
		Request:     entity.DepositRequest{}, Response: CashResponse{}, Status: http.StatusCreated, Errors: []int{409}}, s.deposit)
	api.Handle(httpapi.Op{Method: "POST", Path: "/api/v1/balance/withdraw", OperationID: "withdraw",
		Summary: "Withdraw cash", Tags: []string{"balances"}, Auth: httpapi.AuthUser, Headers: idem,
		Description: "Within the available balance and the daily withdrawal limit, which is in USD and counts the withdrawals of the UTC day in every currency at their USD value (the conversion rates).",
		Request:     entity.WithdrawRequest{}, Response: CashResponse{}, Status: http.StatusCreated, Errors: []int{409}}, s.withdraw)
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/balance/transactions", OperationID: "listTransactions",
		Summary: "The caller's ledger, newest first", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		Description: "total_count counts the matching entries among the newest 5,000.",
		Query:       TransactionsQuery{}, Response: TransactionsResponse{}}, s.listTransactions)
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/balance/asset/{asset_id}", OperationID: "getAssetBalance",
		Summary: "The caller's holding of one asset", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		PathParams: AssetPath{}, Response: entity.HoldingResponse{}, Errors: []int{404}}, s.getAssetBalance)
	api.Handle(httpapi.Op{Method: "GET", Path: "/api/v1/portfolio", OperationID: "getPortfolio",
		Summary: "The caller's holdings and cash, valued at current prices", Tags: []string{"portfolio"},
		Auth: httpapi.AuthUser, Response: PortfolioResponse{}}, s.getPortfolio)
}

func (s *Service) getBalance(w http.ResponseWriter, r *http.Request) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	var q BalanceQuery
	if err := httpapi.DecodeQuery(r, &q); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	c, valid := entity.ParseCurrency(q.Currency)
	if !valid {
		httpapi.WriteError(w, r, &apperr.Error{Kind: apperr.Invalid, Message: "currency: unsupported currency",
			Fields: []apperr.FieldError{{Loc: []string{"query", "currency"}, Msg: "unsupported currency", Type: entity.TypeEnum}}})
		return
	}
	b, err := s.trade.Balance(r.Context(), p.Username, c)
	if apperr.Is(err, apperr.NotFound) {
		// A currency never used is an empty balance, not an error.
		b, err = entity.NewBalance(p.Username, c, entity.At(s.now())), nil
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, b.Response())
}

func (s *Service) listBalances(w http.ResponseWriter, r *http.Request) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	bs, err := s.trade.Balances(r.Context(), p.Username)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := BalancesResponse{Balances: make([]entity.BalanceResponse, 0, len(bs))}
	for _, b := range bs {
		out.Balances = append(out.Balances, b.Response())
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
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

func (s *Service) deposit(w http.ResponseWriter, r *http.Request) { s.cash(w, r, entity.TxDeposit) }

func (s *Service) withdraw(w http.ResponseWriter, r *http.Request) { s.cash(w, r, entity.TxWithdraw) }

func (s *Service) cash(w http.ResponseWriter, r *http.Request, typ entity.TransactionType) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	var req entity.DepositRequest
	if !handlerkit.Decode(w, r, &req, req.Validate) {
		return
	}
	idem, err := handlerkit.Idempotency(r, req, http.StatusCreated,
		func(v any) any { return cashResponse(v.(*entity.BalanceTransaction)) })
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var tx *entity.BalanceTransaction
	var rep *trading.Replay
	if typ == entity.TxDeposit {
		tx, rep, err = s.trade.Deposit(r.Context(), p.Username, req, s.trade.Idem(p.Username, string(typ), idem))
	} else {
		tx, rep, err = s.trade.Withdraw(r.Context(), p.Username, entity.WithdrawRequest(req), s.trade.Idem(p.Username, string(typ), idem))
	}
	if rep != nil || err != nil {
		s.writeOutcome(w, r, rep, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, cashResponse(tx))
}

func (s *Service) listTransactions(w http.ResponseWriter, r *http.Request) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	var q TransactionsQuery
	if err := httpapi.DecodeQuery(r, &q); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	f := dao.TxFilter{Type: entity.TransactionType(q.TransactionType), Limit: q.Limit + q.Offset, Cursor: q.Cursor}
	if q.Currency != "" {
		c, valid := entity.ParseCurrency(q.Currency)
		if !valid {
			httpapi.WriteError(w, r, &apperr.Error{Kind: apperr.Invalid, Message: "currency: unsupported currency",
				Fields: []apperr.FieldError{{Loc: []string{"query", "currency"}, Msg: "unsupported currency", Type: entity.TypeEnum}}})
			return
		}
		f.Currency = c
	}
	txs, next, err := s.trade.Transactions(r.Context(), p.Username, f)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	total, err := s.trade.CountTransactions(r.Context(), p.Username, f, MaxCountScan)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if q.Offset >= len(txs) {
		txs = nil
	} else {
		txs = txs[q.Offset:]
	}
	out := TransactionsResponse{Transactions: make([]entity.TransactionResponse, 0, len(txs)), TotalCount: total, NextCursor: handlerkit.NextCursor(next)}
	for _, t := range txs {
		out.Transactions = append(out.Transactions, t.Response())
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) getAssetBalance(w http.ResponseWriter, r *http.Request) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	id, err := entity.ValidateAssetID(r.PathValue("asset_id"), "path", "asset_id")
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	h, err := s.trade.Holding(r.Context(), p.Username, id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	a, err := s.trade.Asset(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, h.Response(a))
}

var hundred = decimal.FromInt(100)

func (s *Service) getPortfolio(w http.ResponseWriter, r *http.Request) {
	p, ok := handlerkit.CallerOrError(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	hs, err := s.trade.Holdings(ctx, p.Username)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	bs, err := s.trade.Balances(ctx, p.Username)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
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
			httpapi.WriteError(w, r, err)
			return
		}
		v := h.Quantity.Mul(a.PriceUSD)
		assetsValue = assetsValue.Add(v)
		unrealized = unrealized.Add(v.Sub(h.CostBasis))
		rows = append(rows, row{h, a, v})
	}
	cashValue := decimal.Zero
	out := PortfolioResponse{Assets: make([]PortfolioAsset, 0, len(rows)), Cash: make([]entity.BalanceResponse, 0, len(bs)), ValuationCurrency: "USD"}
	for _, b := range bs {
		out.Cash = append(out.Cash, b.Response())
		// Cash in other currencies counts at the reference rates (exact until
		// the one rounding of the totals).
		if rate, ok := s.rates[string(b.Currency)]; ok {
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
			HeldQuantity: rw.h.HeldQuantity.String(), CurrentPrice: entity.FormatPrice(rw.a.PriceUSD),
			MarketValue: entity.USD.Format(rw.value.Round(2, decimal.HalfEven)), Percentage: pct.StringFixed(2),
			AverageCost: entity.FormatPrice(rw.h.AverageCost), CostBasis: entity.USD.Format(rw.h.CostBasis.Round(2, decimal.HalfEven)),
			UnrealizedPnL: entity.USD.Format(rw.value.Sub(rw.h.CostBasis).Round(2, decimal.HalfEven)),
		})
	}
	out.TotalValue = entity.USD.Format(total.Round(2, decimal.HalfEven))
	out.AssetsValue = entity.USD.Format(assetsValue.Round(2, decimal.HalfEven))
	out.CashValue = entity.USD.Format(cashValue.Round(2, decimal.HalfEven))
	out.TotalUnrealized = entity.USD.Format(unrealized.Round(2, decimal.HalfEven))
	httpapi.WriteJSON(w, http.StatusOK, out)
}
