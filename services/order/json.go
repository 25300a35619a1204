package order

import (
	"encoding/json"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// clientOrderHash identifies a validated (so normalised) order request for
// client_order_id replays, by either order route ("" without an id).
func clientOrderHash(req *entity.OrderCreate) string {
	if req.ClientOrderID == "" {
		return ""
	}
	b, err := json.Marshal(req) // a request the decoder produced always encodes
	if err != nil {
		panic(err)
	}
	return trading.HashRequest(b)
}
