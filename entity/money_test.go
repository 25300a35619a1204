package entity

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
)

func TestCurrency(t *testing.T) {
	for _, tt := range []struct {
		in    string
		c     Currency
		ok    bool
		scale int32
	}{
		{"usd", USD, true, 2}, {"EUR", EUR, true, 2}, {"Gbp", GBP, true, 2}, {"jpy", JPY, true, 0},
		{"CHF", CHF, true, 2}, {"cad", CAD, true, 2}, {"AUD", AUD, true, 2}, {"XYZ", "XYZ", false, 2}, {"", "", false, 2},
	} {
		c, ok := ParseCurrency(tt.in)
		if c != tt.c || ok != tt.ok || c.Valid() != tt.ok || c.Scale() != tt.scale {
			t.Errorf("ParseCurrency(%q) = %q %v scale %d", tt.in, c, ok, c.Scale())
		}
	}
	if len(Currencies()) != 7 || DefaultCurrency != USD {
		t.Error("Currencies")
	}
	for _, c := range Currencies() {
		if !c.Valid() {
			t.Errorf("%s not valid", c)
		}
	}
	if USD.Format(decimal.FromInt(1000)) != "1000.00" || JPY.Format(decimal.MustParse("1500")) != "1500" ||
		USD.Round(decimal.MustParse("1.005"), decimal.HalfUp).String() != "1.01" {
		t.Error("Format/Round")
	}
}

func TestBalance(t *testing.T) {
	now := At(testNow)
	b := NewBalance("alice_smith", USD, now)
	if !b.Available().IsZero() || b.Version != 1 {
		t.Fatalf("new balance %+v", b)
	}
	b.CurrentBalance = decimal.MustParse("1000")
	b.HeldBalance = decimal.MustParse("250.5")
	b.TotalDeposits = decimal.MustParse("1000")
	if b.Available().String() != "749.5" {
		t.Errorf("Available = %s", b.Available())
	}
	want := `{"currency":"USD","current_balance":"1000.00","available_balance":"749.50","held_balance":"250.50",` +
		`"total_deposits":"1000.00","total_withdrawals":"0.00","created_at":"2026-11-25T21:57:29.123456Z",` +
		`"updated_at":"2026-11-25T21:57:29.123456Z"}`
	if got := mustJSON(t, b.Response()); got != want {
		t.Errorf("Response\n got %s\nwant %s", got, want)
	}
	// The stored form round-trips exactly.
	var back Balance
	if err := json.Unmarshal([]byte(mustJSON(t, b)), &back); err != nil {
		t.Fatal(err)
	}
	if !back.HeldBalance.Equal(b.HeldBalance) || back.Username != "alice_smith" || !back.CreatedAt.Equal(now.Time) {
		t.Errorf("round trip %+v", back)
	}
}

func TestTransactionTypes(t *testing.T) {
	signs := map[TransactionType]int{TxDeposit: 1, TxWithdraw: -1, TxOrderPayment: -1, TxOrderSale: 1,
		TxOrderRefund: 0, TxOrderHold: 1, TxSystemAdjustment: 0, TxCurrencyConversion: 0}
	if len(TransactionTypes()) != len(signs) {
		t.Fatal("TransactionTypes length")
	}
	for _, tt := range TransactionTypes() {
		if s, ok := signs[tt]; !ok || tt.Sign() != s || !tt.Valid() {
			t.Errorf("%s: sign %d", tt, tt.Sign())
		}
	}
	if TransactionType("refund").Valid() || TransactionType("refund").Sign() != -2 {
		t.Error("unknown type valid")
	}
	for _, s := range []TransactionStatus{TxPending, TxCompleted, TxFailed, TxCancelled} {
		if !s.Valid() {
			t.Errorf("%s invalid", s)
		}
	}
	if TransactionStatus("done").Valid() {
		t.Error("unknown status valid")
	}
}

func TestLedgerEffects(t *testing.T) {
	tests := []struct {
		typ          TransactionType
		status       TransactionStatus
		amount       string
		effect, hold string
		problem      string
	}{
		{TxDeposit, TxCompleted, "100", "100", "0", ""},
		{TxDeposit, TxPending, "100", "0", "0", ""},
		{TxWithdraw, TxCompleted, "-40.5", "-40.5", "0", ""},
		{TxWithdraw, TxFailed, "-40.5", "0", "0", ""},
		{TxOrderHold, TxPending, "65", "0", "65", ""},
		{TxOrderHold, TxCompleted, "65", "0", "0", ""},
		{TxOrderHold, TxCancelled, "65", "0", "0", ""},
		{TxOrderPayment, TxCompleted, "-60.01", "-60.01", "0", ""},
		{TxSystemAdjustment, TxCompleted, "-1", "-1", "0", ""},
		{TxCurrencyConversion, TxCompleted, "5", "5", "0", ""},
		{TxDeposit, TxCompleted, "-1", "-1", "0", "amount -1 has the wrong sign for deposit"},
		{TxWithdraw, TxCompleted, "1", "1", "0", "amount 1 has the wrong sign for withdraw"},
		{TxSystemAdjustment, TxCompleted, "0", "0", "0", "amount is zero"},
		{TxDeposit, TxCompleted, "1.001", "1.001", "0", "amount 1.001 has more than 2 decimal places"},
		{"bogus", TxCompleted, "1", "1", "0", `unknown transaction type "bogus"`},
	}
	for _, tt := range tests {
		e := BalanceTransaction{TransactionType: tt.typ, Status: tt.status, Amount: decimal.MustParse(tt.amount), Currency: USD}
		if e.Effect().String() != tt.effect || e.HoldEffect().String() != tt.hold || e.CheckAmount() != tt.problem {
			t.Errorf("%s/%s %s: effect %s hold %s problem %q", tt.typ, tt.status, tt.amount, e.Effect(), e.HoldEffect(), e.CheckAmount())
		}
	}
}

func TestTransactionResponse(t *testing.T) {
	e := BalanceTransaction{TransactionID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Username: "alice_smith", TransactionType: TxWithdraw,
		Amount: decimal.MustParse("-40.5"), Currency: USD, Status: TxCompleted, Description: "ATM", CreatedAt: At(testNow)}
	want := `{"transaction_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XA","transaction_type":"withdraw","amount":"-40.50","currency":"USD",` +
		`"status":"completed","description":"ATM","reference_id":null,"created_at":"2026-11-25T21:57:29.123456Z"}`
	if got := mustJSON(t, e.Response()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	e.ReferenceID = "ORD1234567890"
	if got := mustJSON(t, e.Response()); !strings.Contains(got, `"reference_id":"ORD1234567890"`) {
		t.Errorf("reference: %s", got)
	}
}

func TestCashRequests(t *testing.T) {
	tests := []struct {
		body     string
		currency Currency
		want     map[string]string
	}{
		{`{"amount":"100.00"}`, USD, nil},
		{`{"amount":100.5,"currency":"eur","description":"salary"}`, EUR, nil},
		{`{"amount":0.01}`, USD, nil},
		{`{"amount":1000000}`, USD, nil},
		{`{"amount":"1000000.00"}`, USD, nil},
		{`{"amount":1000000.01}`, USD, map[string]string{"body.amount": TypeValue}},
		{`{"amount":0}`, USD, map[string]string{"body.amount": TypeValue}},
		{`{"amount":-5}`, USD, map[string]string{"body.amount": TypeValue}},
		{`{"amount":1.001}`, USD, map[string]string{"body.amount": TypeValue}},
		{`{"amount":"1.010"}`, USD, nil}, // 1.01: trailing zeros are not decimals
		{`{"amount":1500,"currency":"JPY"}`, JPY, nil},
		{`{"amount":1.5,"currency":"JPY"}`, JPY, map[string]string{"body.amount": TypeValue}},
		{`{}`, USD, map[string]string{"body.amount": TypeMissing}},
		{`{"amount":null}`, USD, map[string]string{"body.amount": TypeMissing}},
		{`{"amount":10,"currency":"XYZ"}`, "XYZ", map[string]string{"body.currency": TypeEnum}},
		{`{"amount":10,"description":"<script>x</script>"}`, USD, map[string]string{"body.description": TypeValue}},
		{`{"amount":10,"description":"a\u0000b"}`, USD, map[string]string{"body.description": TypeValue}},
		{`{"amount":10,"description":"` + strings.Repeat("é", 255) + `"}`, USD, nil},
		{`{"amount":10,"description":"` + strings.Repeat("é", 256) + `"}`, USD, map[string]string{"body.description": TypeValue}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var d DepositRequest
			if err := json.Unmarshal([]byte(tt.body), &d); err != nil {
				t.Fatal(err)
			}
			wantFields(t, d.Validate(), tt.want)
			if d.Currency != tt.currency {
				t.Errorf("currency %q, want %q", d.Currency, tt.currency)
			}
			var w WithdrawRequest
			if err := json.Unmarshal([]byte(tt.body), &w); err != nil {
				t.Fatal(err)
			}
			wantFields(t, w.Validate(), tt.want)
		})
	}
	var d DepositRequest
	if err := json.Unmarshal([]byte(`{"amount":1e400}`), &d); err == nil {
		t.Error("1e400 decoded")
	}
}

func TestConvertRequest(t *testing.T) {
	tests := []struct {
		r    ConvertRequest
		want map[string]string
	}{
		{ConvertRequest{FromCurrency: "usd", ToCurrency: "eur", Amount: dec("10.25")}, nil},
		{ConvertRequest{FromCurrency: "JPY", ToCurrency: "USD", Amount: dec("1000")}, nil},
		{ConvertRequest{FromCurrency: "JPY", ToCurrency: "USD", Amount: dec("0.5")}, map[string]string{"body.amount": TypeValue}},
		{ConvertRequest{FromCurrency: "usd", ToCurrency: "USD", Amount: dec("1")}, map[string]string{"body.to_currency": TypeValue}},
		{ConvertRequest{}, map[string]string{"body.from_currency": TypeMissing, "body.to_currency": TypeMissing, "body.amount": TypeMissing}},
		{ConvertRequest{FromCurrency: "ABC", ToCurrency: "DEF", Amount: dec("1")}, map[string]string{"body.from_currency": TypeEnum, "body.to_currency": TypeEnum}},
	}
	for i, tt := range tests {
		err := tt.r.Validate()
		wantFields(t, err, tt.want)
		if i == 0 && (tt.r.FromCurrency != USD || tt.r.ToCurrency != EUR) {
			t.Errorf("not normalised: %+v", tt.r)
		}
	}
}
