package user

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// ConvertResponse is the body of a currency conversion: both ledger legs,
// the rate applied (units of to_currency per unit of from_currency, the mid
// rate less the spread), the mid rate of the stored rates and the spread.
type ConvertResponse struct {
	Success      bool                       `json:"success"`
	Message      string                     `json:"message"`
	Rate         string                     `json:"rate"`
	MidRate      string                     `json:"mid_rate"`
	Spread       string                     `json:"spread"`
	Debit        entity.TransactionResponse `json:"debit"`
	Credit       entity.TransactionResponse `json:"credit"`
	FromCurrency entity.Currency            `json:"from_currency"`
	ToCurrency   entity.Currency            `json:"to_currency"`
}

func convertResponse(c *trading.Conversion) ConvertResponse {
	return ConvertResponse{Success: true, Rate: c.Rate.String(), MidRate: c.MidRate.String(), Spread: c.Spread.String(),
		Message: "Converted " + c.From.Currency.Format(c.From.Amount.Abs()) + " " + string(c.From.Currency) +
			" to " + c.To.Currency.Format(c.To.Amount) + " " + string(c.To.Currency),
		Debit: c.From.Response(), Credit: c.To.Response(), FromCurrency: c.From.Currency, ToCurrency: c.To.Currency}
}

// convertIn is the input of POST /api/v1/balance/convert.
type convertIn struct{ Body entity.ConvertRequest }

func (s *Service) registerConvert(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/balance/convert", OperationID: "convertCurrency",
		Summary: "Convert cash between currencies at the current rate (both legs in one transaction)",
		Description: "At the stored rates (`GET /api/v1/fx/rates`) less the spread (`--fx-spread`): the credit is amount × from's USD value × (1 − spread) / to's USD value, rounded down to the target currency's places. " +
			"A rate older than the platform's bound (`--fx-max-age`) is refused with 503 `fx_rate_stale`.",
		Tags: []string{"balances"}, Auth: httpapi.AuthUser, Headers: []httpapi.Header{handlerkit.IdempotencyDoc},
		Response: ConvertResponse{}, Status: http.StatusCreated, Errors: []int{409, 503}}, handlerkit.WithCaller(s.convert))
}

func (s *Service) convert(r *http.Request, p auth.Principal, in *convertIn) (*handlerkit.Result[ConvertResponse], error) {
	req := in.Body
	if err := req.Validate(); err != nil {
		return nil, err
	}
	idem, err := handlerkit.Idempotency(r, req, http.StatusCreated,
		func(v any) any { return convertResponse(v.(*trading.Conversion)) })
	if err != nil {
		return nil, err
	}
	c, rep, err := s.trade.Convert(r.Context(), p.Username, req, s.trade.Idem(p.Username, "convert", idem))
	if rep != nil || err != nil {
		return outcome[ConvertResponse](rep, err)
	}
	return &handlerkit.Result[ConvertResponse]{Body: convertResponse(c)}, nil
}
