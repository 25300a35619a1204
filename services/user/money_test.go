package user_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/services/user"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestDepositWithdrawBalances: deposits and withdrawals through the routes
// move the balance exactly, are idempotent with a key, are refused beyond
// the available balance and the daily limit, and bad amounts are 422.
func TestDepositWithdrawBalances(t *testing.T) {
	e, _ := newEnv(t, trading.Config{DepositDailyLimit: decimal.FromInt(2000), WithdrawDailyLimit: decimal.FromInt(500)})
	tok := e.User("alice_01", entity.RoleCustomer)

	var cash user.CashResponse
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"1000.5"}`, idemHeader, "dep-1").Want(t, http.StatusCreated, &cash)
	if !cash.Success || cash.Message != "Successfully deposited $1000.50" || cash.Amount != "1000.50" ||
		cash.Currency != "USD" || cash.TransactionID == "" || !cash.Timestamp.Equal(e.Clock.Now()) {
		t.Fatalf("deposit: %+v", cash)
	}
	first := e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"1000.5"}`, idemHeader, "dep-1")
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("deposit replay: %d %v", first.Status, first.Header)
	}
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"1"}`, idemHeader, "dep-1").
		WantError(t, http.StatusConflict, "conflict", trading.ErrIdemMismatch.Message)
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"-1"}`).WantField(t, "body.amount")
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"1.001"}`).WantField(t, "body.amount")
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"1000"}`).WantError(t, http.StatusUnprocessableEntity, "invalid", "")
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"200","currency":"eur"}`).Want(t, http.StatusCreated, &cash)
	if cash.Message != "Successfully deposited 200.00 EUR" || cash.Currency != "EUR" {
		t.Fatalf("EUR deposit: %+v", cash)
	}

	e.Do("POST", "/api/v1/balance/withdraw", tok, `{"amount":"100.25"}`, idemHeader, "wd-1").Want(t, http.StatusCreated, &cash)
	if cash.Message != "Successfully withdrew $100.25" || cash.Amount != "100.25" {
		t.Fatalf("withdraw: %+v", cash)
	}
	e.Do("POST", "/api/v1/balance/withdraw", tok, `{"amount":"300","currency":"EUR"}`).
		WantError(t, http.StatusUnprocessableEntity, "insufficient_funds", "insufficient funds")
	e.Do("POST", "/api/v1/balance/withdraw", tok, `{"amount":"450"}`).WantError(t, http.StatusUnprocessableEntity, "invalid", "")
	e.Do("POST", "/api/v1/balance/withdraw", tok, `{"currency":"XXX","amount":"1"}`).WantField(t, "body.currency")

	var b entity.BalanceResponse
	e.Do("GET", "/api/v1/balance", tok, "").Want(t, http.StatusOK, &b)
	if b.Currency != "USD" || b.CurrentBalance != "900.25" || b.AvailableBalance != "900.25" ||
		b.TotalDeposits != "1000.50" || b.TotalWithdrawals != "100.25" {
		t.Fatalf("USD balance: %+v", b)
	}
	e.Do("GET", "/api/v1/balance?currency=gbp", tok, "").Want(t, http.StatusOK, &b)
	if b.Currency != "GBP" || b.CurrentBalance != "0.00" || b.AvailableBalance != "0.00" {
		t.Fatalf("unused GBP balance: %+v", b)
	}
	e.Do("GET", "/api/v1/balance?currency=XYZ", tok, "").WantField(t, "query.currency")
	e.Do("GET", "/api/v1/balance?currency=TOOLONG", tok, "").WantField(t, "query.currency")

	var all user.BalancesResponse
	e.Do("GET", "/api/v1/balances", tok, "").Want(t, http.StatusOK, &all)
	if len(all.Balances) != 2 || all.Balances[0].Currency != "EUR" || all.Balances[0].CurrentBalance != "200.00" ||
		all.Balances[1].Currency != "USD" || all.Balances[1].CurrentBalance != "900.25" {
		t.Fatalf("balances: %+v", all)
	}
	e.Do("GET", "/api/v1/balances", "", "").WantError(t, http.StatusUnauthorized, "unauthorized", "")
}

// TestTransactionsPaging: the ledger is listed newest first, filtered by
// type and currency, paged by limit and offset or by cursor, with
// total_count counting the matching entries.
func TestTransactionsPaging(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	tok := e.User("alice_01", entity.RoleCustomer)
	for i := 1; i <= 5; i++ {
		e.Clock.Advance(time.Second)
		e.Do("POST", "/api/v1/balance/deposit", tok, fmt.Sprintf(`{"amount":"%d"}`, i)).Want(t, http.StatusCreated, nil)
	}
	e.Do("POST", "/api/v1/balance/withdraw", tok, `{"amount":"2"}`).Want(t, http.StatusCreated, nil)
	e.Do("POST", "/api/v1/balance/deposit", tok, `{"amount":"7","currency":"EUR"}`).Want(t, http.StatusCreated, nil)

	list := func(query string) user.TransactionsResponse {
		t.Helper()
		var out user.TransactionsResponse
		e.Do("GET", "/api/v1/balance/transactions"+query, tok, "").Want(t, http.StatusOK, &out)
		return out
	}
	amounts := func(p user.TransactionsResponse) string {
		s := ""
		for _, tx := range p.Transactions {
			s += string(tx.TransactionType) + ":" + tx.Amount + string(tx.Currency) + " "
		}
		return s
	}
	all := list("")
	if got := amounts(all); got != "deposit:7.00EUR withdraw:-2.00USD deposit:5.00USD deposit:4.00USD deposit:3.00USD deposit:2.00USD deposit:1.00USD " ||
		all.TotalCount != 7 || all.NextCursor != nil {
		t.Fatalf("all: %s total %d next %v", got, all.TotalCount, all.NextCursor)
	}
	deposits := list("?transaction_type=deposit&currency=usd&limit=2&offset=1")
	if got := amounts(deposits); got != "deposit:4.00USD deposit:3.00USD " || deposits.TotalCount != 5 || deposits.NextCursor == nil {
		t.Fatalf("deposits page: %s total %d next %v", got, deposits.TotalCount, deposits.NextCursor)
	}
	rest := list("?transaction_type=deposit&currency=USD&limit=5&cursor=" + *deposits.NextCursor)
	if got := amounts(rest); got != "deposit:2.00USD deposit:1.00USD " || rest.NextCursor != nil {
		t.Fatalf("after the cursor: %s next %v", got, rest.NextCursor)
	}
	if p := list("?offset=50"); len(p.Transactions) != 0 || p.TotalCount != 7 {
		t.Fatalf("offset past the end: %+v", p)
	}
	e.Do("GET", "/api/v1/balance/transactions?currency=ZZZ", tok, "").WantField(t, "query.currency")
	e.Do("GET", "/api/v1/balance/transactions?limit=0", tok, "").WantField(t, "query.limit")
	e.Do("GET", "/api/v1/balance/transactions?transaction_type=gift", tok, "").WantField(t, "query.transaction_type")
	e.Do("GET", "/api/v1/balance/transactions?cursor=garbage", tok, "").WantError(t, http.StatusUnprocessableEntity, "invalid", "")
}

// TestConvert: a conversion moves both legs at the reference rate (the
// credit rounded down), replays with its key, and is refused beyond the
// available balance and for bad currencies.
func TestConvert(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	tok := e.User("alice_01", entity.RoleCustomer)
	e.Deposit("alice_01", "500", entity.USD)

	var c user.ConvertResponse
	body := `{"from_currency":"usd","to_currency":"EUR","amount":"100"}`
	e.Do("POST", "/api/v1/balance/convert", tok, body, idemHeader, "cv-1").Want(t, http.StatusCreated, &c)
	if !c.Success || c.Message != "Converted 100.00 USD to 92.59 EUR" || c.Rate != "0.9259259259" ||
		c.Debit.Amount != "-100.00" || c.Debit.Currency != "USD" || c.Credit.Amount != "92.59" || c.Credit.Currency != "EUR" ||
		c.FromCurrency != "USD" || c.ToCurrency != "EUR" || c.Debit.TransactionType != entity.TxCurrencyConversion {
		t.Fatalf("convert: %+v", c)
	}
	rep := e.Do("POST", "/api/v1/balance/convert", tok, body, idemHeader, "cv-1")
	if rep.Status != http.StatusCreated || rep.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("convert replay: %d %s", rep.Status, rep.Body)
	}
	e.Do("POST", "/api/v1/balance/convert", tok, `{"from_currency":"USD","to_currency":"EUR","amount":"400.01"}`).
		WantError(t, http.StatusUnprocessableEntity, "insufficient_funds", "insufficient funds")
	e.Do("POST", "/api/v1/balance/convert", tok, `{"from_currency":"USD","to_currency":"USD","amount":"1"}`).WantField(t, "body.to_currency")
	e.Do("POST", "/api/v1/balance/convert", tok, `{"from_currency":"USD","amount":"1"}`).WantField(t, "body.to_currency")

	var b entity.BalanceResponse
	e.Do("GET", "/api/v1/balance?currency=EUR", tok, "").Want(t, http.StatusOK, &b)
	if b.CurrentBalance != "92.59" {
		t.Fatalf("EUR after one conversion (replayed once): %+v", b)
	}
	e.Do("GET", "/api/v1/balance", tok, "").Want(t, http.StatusOK, &b)
	if b.CurrentBalance != "400.00" {
		t.Fatalf("USD after one conversion: %+v", b)
	}
}

// TestHoldingsPortfolioPnL: the holding of one asset, the portfolio valued at
// current prices (cash in other currencies at the reference rates) and the
// average-cost P&L follow the caller's fills exactly.
func TestHoldingsPortfolioPnL(t *testing.T) {
	e, _ := newEnv(t, trading.Config{FeeRate: decimal.MustParse("0.01")})
	tok := e.User("alice_01", entity.RoleCustomer)
	e.Asset("BTC", "100")
	e.Asset("ETH", "10")
	e.Deposit("alice_01", "1000", entity.USD)
	e.Deposit("alice_01", "100", entity.EUR)

	e.Do("GET", "/api/v1/balance/asset/BTC", tok, "").WantError(t, http.StatusNotFound, "not_found", "")
	e.Do("GET", "/api/v1/balance/asset/B-C", tok, "").WantField(t, "path.asset_id")

	e.Order("alice_01", entity.MarketBuy, "BTC", "2", "")    // 200 + fee 2
	e.Order("alice_01", entity.MarketBuy, "ETH", "10", "")   // 100 + fee 1
	e.Order("alice_01", entity.MarketSell, "ETH", "5", "")   // 50 - fee 0.50
	e.Order("alice_01", entity.LimitSell, "BTC", "1", "500") // rests, holding 1 BTC
	e.SetPrice("BTC", "150")

	var h entity.HoldingResponse
	e.Do("GET", "/api/v1/balance/asset/btc", tok, "").Want(t, http.StatusOK, &h)
	if h.AssetID != "BTC" || h.AssetName != "BTC coin" || h.Quantity != "2" || h.HeldQuantity != "1" || h.Available != "1" ||
		h.CurrentPrice != "150.00" || h.TotalValue != "300.00" || h.AverageCost != "101.00" {
		t.Fatalf("BTC holding: %+v", h)
	}

	var pf user.PortfolioResponse
	e.Do("GET", "/api/v1/portfolio", tok, "").Want(t, http.StatusOK, &pf)
	// Cash: USD 1000 - 202 - 101 + 49.50 = 746.50; EUR 100 at 1.08 = 108.
	// Assets: BTC 2 × 150 = 300 (cost 202), ETH 5 × 10 = 50 (cost 50.50).
	if len(pf.Assets) != 2 || pf.TotalValue != "1204.50" || pf.AssetsValue != "350.00" || pf.CashValue != "854.50" ||
		pf.TotalUnrealized != "97.50" || pf.ValuationCurrency != "USD" || len(pf.Cash) != 2 {
		t.Fatalf("portfolio: %+v", pf)
	}
	btc, eth := pf.Assets[0], pf.Assets[1] // by value, largest first
	if btc.AssetID != "BTC" || btc.MarketValue != "300.00" || btc.Percentage != "24.91" || btc.CostBasis != "202.00" ||
		btc.UnrealizedPnL != "98.00" || btc.HeldQuantity != "1" || btc.AverageCost != "101.00" ||
		eth.AssetID != "ETH" || eth.Quantity != "5" || eth.MarketValue != "50.00" || eth.Percentage != "4.15" ||
		eth.CostBasis != "50.50" || eth.UnrealizedPnL != "-0.50" || eth.CurrentPrice != "10.00" {
		t.Fatalf("portfolio assets: %+v", pf.Assets)
	}

	var pnl user.PnLResponse
	e.Do("GET", "/api/v1/analytics/pnl", tok, "").Want(t, http.StatusOK, &pnl)
	// ETH: bought 10 for 101 (10.10 each), sold 5 for 49.50: realized 49.50 - 50.50 = -1.00.
	if len(pnl.Assets) != 2 || pnl.Currency != "USD" || pnl.TotalRealized != "-1.00" || pnl.TotalUnrealized != "97.50" ||
		pnl.TotalFees != "3.50" {
		t.Fatalf("pnl: %+v", pnl)
	}
	pb, pe := pnl.Assets[0], pnl.Assets[1] // by asset id
	if pb.AssetID != "BTC" || pb.Quantity != "2" || pb.CostBasis != "202.00" || pb.AverageCost != "101.00" ||
		pb.MarketValue != "300.00" || pb.RealizedPnL != "0.00" || pb.UnrealizedPnL != "98.00" || pb.FeesPaid != "2.00" ||
		pb.Bought != "2" || pb.Sold != "0" ||
		pe.AssetID != "ETH" || pe.Quantity != "5" || pe.RealizedPnL != "-1.00" || pe.FeesPaid != "1.50" ||
		pe.Bought != "10" || pe.Sold != "5" || pe.CurrentPrice != "10.00" {
		t.Fatalf("pnl assets: %+v", pnl.Assets)
	}

	// A user with nothing has empty lists, not nulls.
	other := e.User("bobby_01", entity.RoleCustomer)
	rep := e.Do("GET", "/api/v1/portfolio", other, "")
	if rep.Status != http.StatusOK || rep.Body != `{"assets":[],"cash":[{"currency":"USD","current_balance":"0.00","available_balance":"0.00","held_balance":"0.00","total_deposits":"0.00","total_withdrawals":"0.00","created_at":"2026-11-25T12:00:00.000000Z","updated_at":"2026-11-25T12:00:00.000000Z"}],"total_value":"0.00","assets_value":"0.00","cash_value":"0.00","total_unrealized_pnl":"0.00","valuation_currency":"USD"}` {
		t.Fatalf("empty portfolio: %d %s", rep.Status, rep.Body)
	}
	rep = e.Do("GET", "/api/v1/analytics/pnl", other, "")
	if rep.Status != http.StatusOK || rep.Body != `{"assets":[],"total_realized_pnl":"0.00","total_unrealized_pnl":"0.00","total_fees_paid":"0.00","currency":"USD"}` {
		t.Fatalf("empty pnl: %d %s", rep.Status, rep.Body)
	}
}
