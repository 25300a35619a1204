package entity

import (
	"encoding/json"
	"strconv"
	"unsafe"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// A hand-written decoder for stored order documents (the trigger engine
// reads a page of them per index read). It handles the shape AppendJSON
// writes, in any key order, and hands everything else to encoding/json,
// which stays the reference: FuzzDecodeOrder checks that every document the
// fast path accepts decodes to the same value with json.Unmarshal.

// DecodeOrder decodes an order document as json.Unmarshal into a zero Order
// would, and returns the same error when json.Unmarshal fails.
func DecodeOrder(doc string) (*Order, error) {
	o := new(Order)
	// The fast path only reads doc and copies what it keeps.
	if o.decodeFast(unsafe.Slice(unsafe.StringData(doc), len(doc))) {
		return o, nil
	}
	*o = Order{}
	if err := json.Unmarshal([]byte(doc), o); err != nil {
		return nil, err
	}
	return o, nil
}

// decodeFast decodes doc into o, the zero Order, and reports true only when
// the result is exactly what json.Unmarshal would produce, without error.
// It reports false (o then holds a partial result) for anything outside the
// plain shape of OrderCreate.DecodeFast: one object with keys spelt exactly
// as the json tags, each at most once; plain strings; JSON numbers or plain
// strings for decimals (null only for the pointer ones); an integer
// version; status_history as null or an array of objects with the keys of
// StatusChange. Nothing decoded aliases doc.
func (o *Order) decodeFast(doc []byte) bool {
	s := fastScanner{b: doc}
	var seen uint32
	if !s.object(func(key []byte) bool { return o.decodeFastField(&s, key, &seen) }) {
		return false
	}
	s.skipSpace()
	return s.i == len(s.b)
}

// object reads a JSON object, calling field for each key with the scanner
// at the key's value; field reads the value.
func (s *fastScanner) object(field func(key []byte) bool) bool {
	s.skipSpace()
	if !s.consume('{') {
		return false
	}
	s.skipSpace()
	if s.consume('}') {
		return true
	}
	for {
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.skipSpace()
		if !s.consume(':') {
			return false
		}
		s.skipSpace()
		if !field(key) {
			return false
		}
		s.skipSpace()
		if s.consume(',') {
			s.skipSpace()
			continue
		}
		return s.consume('}')
	}
}

// decodeFastField decodes the value at s into the field of o tagged key.
func (o *Order) decodeFastField(s *fastScanner, key []byte, seen *uint32) bool {
	var ok bool
	var bit uint32
	switch string(key) {
	case "order_id":
		bit, ok = 1<<0, s.decodeString(&o.OrderID)
	case "username":
		bit, ok = 1<<1, s.decodeString(&o.Username)
	case "order_type":
		bit, ok = 1<<2, decodeEnum(s, &o.OrderType, knownOrderTypes)
	case "asset_id":
		bit, ok = 1<<3, s.decodeString(&o.AssetID)
	case "quantity":
		bit, ok = 1<<4, s.decodeDecimalValue(&o.Quantity)
	case "price":
		bit, ok = 1<<5, s.decodeDecimal(&o.Price)
	case "limit_price":
		bit, ok = 1<<6, s.decodeDecimal(&o.LimitPrice)
	case "stop_price":
		bit, ok = 1<<7, s.decodeDecimal(&o.StopPrice)
	case "trail_percent":
		bit, ok = 1<<8, s.decodeDecimal(&o.TrailPercent)
	case "trail_amount":
		bit, ok = 1<<9, s.decodeDecimal(&o.TrailAmount)
	case "high_water_mark":
		bit, ok = 1<<10, s.decodeDecimal(&o.HighWaterMark)
	case "status":
		bit, ok = 1<<11, decodeEnum(s, &o.Status, knownOrderStatuses)
	case "time_in_force":
		bit, ok = 1<<12, decodeEnum(s, &o.TimeInForce, knownTimeInForces)
	case "expires_at":
		bit, ok = 1<<13, s.decodeTime(&o.ExpiresAt)
	case "client_order_id":
		bit, ok = 1<<14, s.decodeString(&o.ClientOrderID)
	case "currency":
		bit, ok = 1<<15, decodeEnum(s, &o.Currency, knownCurrencies)
	case "total_amount":
		bit, ok = 1<<16, s.decodeDecimalValue(&o.TotalAmount)
	case "fee":
		bit, ok = 1<<17, s.decodeDecimalValue(&o.Fee)
	case "held_amount":
		bit, ok = 1<<18, s.decodeDecimalValue(&o.HeldAmount)
	case "held_quantity":
		bit, ok = 1<<19, s.decodeDecimalValue(&o.HeldQuantity)
	case "executed_quantity":
		bit, ok = 1<<20, s.decodeDecimalValue(&o.ExecutedQuantity)
	case "executed_price":
		bit, ok = 1<<21, s.decodeDecimal(&o.ExecutedPrice)
	case "oco_with":
		bit, ok = 1<<22, s.decodeString(&o.OCOWith)
	case "status_history":
		bit, ok = 1<<23, s.decodeHistory(&o.StatusHistory)
	case "created_at":
		bit, ok = 1<<24, s.decodeTimeValue(&o.CreatedAt)
	case "updated_at":
		bit, ok = 1<<25, s.decodeTimeValue(&o.UpdatedAt)
	case "version":
		bit, ok = 1<<26, s.decodeInt(&o.Version)
	case "fx_rate":
		bit, ok = 1<<27, s.decodeDecimal(&o.FXRate)
	default:
		return false
	}
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return ok
}

var knownOrderStatuses = OrderStatuses()

// decodeDecimalValue reads a decimal into a decimal.Decimal field (not a
// pointer): decodeDecimal's rules, but null is declined
// (decimal.Decimal.UnmarshalJSON rejects it).
func (s *fastScanner) decodeDecimalValue(dst *decimal.Decimal) bool {
	if s.literal("null") {
		return false
	}
	p := dst
	return s.decodeDecimal(&p)
}

// decodeTimeValue reads a time into a Time field (not a pointer): a plain
// string parsed by ParseTime, or null, the zero Time (as Time.UnmarshalJSON).
func (s *fastScanner) decodeTimeValue(dst *Time) bool {
	if s.literal("null") {
		*dst = Time{}
		return true
	}
	p := dst
	return s.decodeTime(&p)
}

// decodeInt reads a JSON integer (no fraction, no exponent) that fits an
// int64; null leaves *dst unchanged, as encoding/json does.
func (s *fastScanner) decodeInt(dst *int64) bool {
	if s.literal("null") {
		return true
	}
	b, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return false // a fraction, an exponent or out of range
	}
	*dst = n
	return true
}

// decodeHistory reads a status history: null (nil) or an array of status
// changes.
func (s *fastScanner) decodeHistory(dst *[]StatusChange) bool {
	if s.literal("null") {
		*dst = nil
		return true
	}
	if !s.consume('[') {
		return false
	}
	h := make([]StatusChange, 0, 8)
	s.skipSpace()
	if !s.consume(']') {
		for {
			var c StatusChange
			var seen uint8
			if !s.object(func(key []byte) bool { return s.decodeChangeField(&c, key, &seen) }) {
				return false
			}
			h = append(h, c)
			s.skipSpace()
			if s.consume(',') {
				s.skipSpace()
				continue
			}
			if !s.consume(']') {
				return false
			}
			break
		}
	}
	*dst = h
	return true
}

// decodeChangeField decodes the value at s into the field of c tagged key.
func (s *fastScanner) decodeChangeField(c *StatusChange, key []byte, seen *uint8) bool {
	var ok bool
	var bit uint8
	switch string(key) {
	case "status":
		bit, ok = 1<<0, decodeEnum(s, &c.Status, knownOrderStatuses)
	case "at":
		bit, ok = 1<<1, s.decodeTimeValue(&c.At)
	case "reason":
		bit, ok = 1<<2, s.decodeString(&c.Reason)
	default:
		return false
	}
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return ok
}
