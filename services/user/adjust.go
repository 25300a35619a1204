package user

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
)

// PathAdjustments is the route of an admin's cash adjustments of a user.
const PathAdjustments = "/api/v1/admin/users/{username}/adjustments"

// AdjustmentResponse is the system_adjustment entry an adjustment wrote.
type AdjustmentResponse struct {
	TransactionID   string                   `json:"transaction_id"`
	Username        string                   `json:"username"`
	TransactionType entity.TransactionType   `json:"transaction_type"`
	Amount          string                   `json:"amount" doc:"signed: a credit is positive, a debit negative"`
	Currency        entity.Currency          `json:"currency"`
	Reason          string                   `json:"reason"`
	CreatedBy       string                   `json:"created_by" doc:"the admin who made it"`
	Status          entity.TransactionStatus `json:"status"`
	CreatedAt       entity.Time              `json:"created_at"`
}

// adjustIn is the input of POST PathAdjustments.
type adjustIn struct {
	UserPath
	Body entity.AdjustmentRequest
}

// errIdemRequired answers an adjustment without an Idempotency-Key.
var errIdemRequired = &apperr.Error{Kind: apperr.Invalid, Message: handlerkit.IdempotencyHeader + ": required",
	Fields: []apperr.FieldError{{Loc: []string{"header", handlerkit.IdempotencyHeader}, Msg: "required for adjustments", Type: entity.TypeMissing}}}

func (s *Service) registerAdjust(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: PathAdjustments, OperationID: "adjustBalance",
		Summary: "Credit or debit a user's cash (admin)", Tags: []string{"admin"}, Auth: httpapi.AuthAdmin,
		Description: "One transaction: the balance change and a completed `system_adjustment` entry whose description is " +
			"the reason and which records the admin. A debit (a negative amount) beyond the available balance is 422 " +
			"`insufficient_funds`: a balance never goes negative. The daily deposit and withdrawal limits do not apply.",
		Headers: []httpapi.Header{{Name: handlerkit.IdempotencyHeader, Required: true,
			Description: "Required: the same key with the same body returns the first answer again and changes nothing; with another body, 409."}},
		Response: AdjustmentResponse{}, Status: http.StatusCreated, Errors: []int{404, 409}}, handlerkit.WithCaller(s.adjust))
}

func (s *Service) adjust(r *http.Request, p auth.Principal, in *adjustIn) (*handlerkit.Result[AdjustmentResponse], error) {
	name, req := string(in.Username), in.Body
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if r.Header.Get(handlerkit.IdempotencyHeader) == "" {
		return nil, errIdemRequired
	}
	idem, err := handlerkit.Idempotency(r, req, http.StatusCreated,
		func(v any) any { return adjustmentResponse(v.(*entity.BalanceTransaction)) })
	if err != nil {
		return nil, err
	}
	tx, rep, err := s.trade.Adjust(r.Context(), p.Username, name, req, s.trade.Idem(p.Username, "adjustment", idem))
	if rep != nil || err != nil {
		return outcome[AdjustmentResponse](rep, err)
	}
	s.log.InfoContext(r.Context(), "user: cash adjusted", "user", p.Username, "request_id", r.Header.Get(httpapi.RequestIDHeader),
		"target", name, "amount", tx.Amount.String(), "currency", string(tx.Currency), "transaction_id", tx.TransactionID)
	return &handlerkit.Result[AdjustmentResponse]{Body: adjustmentResponse(tx)}, nil
}

func adjustmentResponse(t *entity.BalanceTransaction) AdjustmentResponse {
	return AdjustmentResponse{TransactionID: t.TransactionID, Username: t.Username, TransactionType: t.TransactionType,
		Amount: t.Currency.Format(t.Amount), Currency: t.Currency, Reason: t.Description, CreatedBy: t.CreatedBy,
		Status: t.Status, CreatedAt: t.CreatedAt}
}
