package handlerkit

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/trading"
)

// WithCaller adapts a handler of the authenticated caller's requests to
// httpapi.Handle: h gets the caller (Caller); a request without one is
// answered 401 and h is not called.
func WithCaller[In, Out any](h func(r *http.Request, p auth.Principal, in *In) (Out, error)) func(*http.Request, *In) (Out, error) {
	return func(r *http.Request, in *In) (Out, error) {
		p, err := Caller(r)
		if err != nil {
			var zero Out
			return zero, err
		}
		return h(r, p, in)
	}
}

// Result is the answer of an operation with an Idempotency-Key: Body, or
// the stored Replay of the first request with the key. Its operation
// declares Body's type as its Op.Response.
type Result[T any] struct {
	Body   T
	Replay *trading.Replay
}

// Replayed returns the Result that answers with rep.
func Replayed[T any](rep *trading.Replay) *Result[T] { return &Result[T]{Replay: rep} }

// WriteResponse answers the replay (WriteReplay) or Body as JSON with
// status (httpapi.Responder).
func (x *Result[T]) WriteResponse(w http.ResponseWriter, _ *http.Request, status int) {
	if x.Replay != nil {
		WriteReplay(w, x.Replay)
		return
	}
	httpapi.WriteJSON(w, status, &x.Body)
}

// AssetID is an {asset_id} path parameter: 1-10 letters or digits, any
// case, normalised to upper case (entity.ValidateAssetID).
type AssetID string

// UnmarshalText validates and normalises an asset id.
func (a *AssetID) UnmarshalText(b []byte) error {
	id, err := entity.ValidateAssetID(string(b))
	if err != nil {
		return err
	}
	*a = AssetID(id)
	return nil
}

// OrderID is an {order_id} path parameter (entity.ValidateOrderID).
type OrderID string

// UnmarshalText validates an order id.
func (o *OrderID) UnmarshalText(b []byte) error {
	if err := entity.ValidateOrderID(string(b)); err != nil {
		return err
	}
	*o = OrderID(b)
	return nil
}

// Pair is a {pair} path parameter: an exchange-rate pair against USD
// (entity.ParsePair), whose value is its currency.
type Pair string

// UnmarshalText validates a pair name and keeps its currency.
func (p *Pair) UnmarshalText(b []byte) error {
	c, err := entity.ValidatePair(string(b))
	if err != nil {
		return err
	}
	*p = Pair(c)
	return nil
}
