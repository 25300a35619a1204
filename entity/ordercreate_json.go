package entity

import (
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// A hand-written decoder for the POST /orders body (the order hot path). It
// handles only the plain shape clients send and declines everything else, so
// that encoding/json stays the reference: FuzzOrderCreateDecodeFast checks
// that every body it accepts decodes to the same value with json.Unmarshal.

// DecodeFast implements httpapi.FastDecoder: it decodes body into r, which
// must be the zero OrderCreate, and reports true only when the result is
// exactly what json.Unmarshal would produce for body, without error. It
// returns false, leaving r unchanged, for a non-zero r and for any body
// outside the plain shape it handles:
//
//   - one JSON object, with JSON whitespace around it and its tokens;
//   - keys spelt exactly as the json tags (encoding/json also matches keys
//     case-insensitively: "Order_Type" is declined, not ignored); unknown
//     keys are declined too;
//   - values: strings without backslash escapes, control characters or
//     invalid UTF-8; null; and JSON numbers for the decimal fields only.
//     Decimal and time strings must parse (decimal.Parse, ParseTime): a value
//     their UnmarshalJSON would reject is declined;
//   - each key at most once: a repeated key is declined (encoding/json
//     keeps the last value; httpapi.DecodeJSON refuses such a body).
//
// null leaves a string field unchanged and sets a pointer field to nil, as
// encoding/json does (without calling the pointee's UnmarshalJSON). Nothing
// decoded aliases body.
func (r *OrderCreate) DecodeFast(body []byte) bool {
	if r == nil || *r != (OrderCreate{}) {
		return false // json.Unmarshal would merge into the existing value
	}
	var v OrderCreate
	var seen uint16 // the fields decoded so far, one bit each
	s := fastScanner{b: body}
	s.skipSpace()
	if !s.consume('{') {
		return false
	}
	s.skipSpace()
	if !s.consume('}') {
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
			if !v.decodeFastField(&s, key, &seen) {
				return false
			}
			s.skipSpace()
			if s.consume(',') {
				s.skipSpace()
				continue
			}
			if s.consume('}') {
				break
			}
			return false
		}
	}
	s.skipSpace()
	if s.i != len(s.b) {
		return false
	}
	*r = v
	return true
}

// decodeFastField decodes the value at s into the field tagged key, and
// declines a key that seen already holds (a repeated key) or that names no
// field.
func (r *OrderCreate) decodeFastField(s *fastScanner, key []byte, seen *uint16) bool {
	var bit uint16
	var ok bool
	switch string(key) {
	case "order_type":
		bit, ok = 1<<0, decodeEnum(s, &r.OrderType, knownOrderTypes)
	case "asset_id":
		bit, ok = 1<<1, s.decodeString(&r.AssetID)
	case "quantity":
		bit, ok = 1<<2, s.decodeDecimal(&r.Quantity)
	case "price":
		bit, ok = 1<<3, s.decodeDecimal(&r.Price)
	case "limit_price":
		bit, ok = 1<<4, s.decodeDecimal(&r.LimitPrice)
	case "stop_price":
		bit, ok = 1<<5, s.decodeDecimal(&r.StopPrice)
	case "trail_percent":
		bit, ok = 1<<6, s.decodeDecimal(&r.TrailPercent)
	case "trail_amount":
		bit, ok = 1<<7, s.decodeDecimal(&r.TrailAmount)
	case "time_in_force":
		bit, ok = 1<<8, decodeEnum(s, &r.TimeInForce, knownTimeInForces)
	case "expires_at":
		bit, ok = 1<<9, s.decodeTime(&r.ExpiresAt)
	case "client_order_id":
		bit, ok = 1<<10, s.decodeString(&r.ClientOrderID)
	case "currency":
		bit, ok = 1<<11, decodeEnum(s, &r.Currency, knownCurrencies)
	case "oco_with":
		bit, ok = 1<<12, s.decodeString(&r.OCOWith)
	default:
		return false
	}
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return ok
}

// The values of the enumerated fields, interned by decodeEnum.
var (
	knownOrderTypes   = OrderTypes()
	knownTimeInForces = []TimeInForce{GTC, Day, GTD, IOC, FOK}
	knownCurrencies   = Currencies()
)

// decodeEnum decodes a string or null at s into *dst (null leaves it as it
// is), without allocating for the known values.
func decodeEnum[T ~string](s *fastScanner, dst *T, known []T) bool {
	b, null, ok := s.stringOrNull()
	if !ok || null {
		return ok
	}
	for _, k := range known {
		if string(b) == string(k) {
			*dst = k
			return true
		}
	}
	*dst = T(b)
	return true
}

// fastScanner reads the subset of JSON DecodeFast handles. Its methods
// report false for anything outside that subset; the caller then gives up.
type fastScanner struct {
	b []byte
	i int
}

// skipSpace skips JSON whitespace.
func (s *fastScanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// consume skips c if it is the next byte.
func (s *fastScanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// literal skips lit if it comes next.
func (s *fastScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// plainString reads a JSON string without escapes, control characters or
// invalid UTF-8, and returns its content (a slice of the body: the caller
// copies what it keeps). Such a string decodes to exactly its content.
func (s *fastScanner) plainString() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for s.i < len(s.b) {
		switch plainClass[s.b[s.i]] {
		case plainASCII:
			s.i++
		case plainNonASCII:
			ascii = false
			s.i++
		case plainQuote:
			b := s.b[start:s.i]
			s.i++
			return b, ascii || utf8.Valid(b)
		default:
			return nil, false
		}
	}
	return nil, false
}

// Classes of the bytes of a JSON string, for plainString.
const (
	plainASCII    = iota // stands for itself
	plainNonASCII        // part of a multi-byte UTF-8 sequence (checked apart)
	plainQuote           // '"', the end of the string
	plainOther           // '\\' or a control character: declined
)

var plainClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '"':
			t[c] = plainQuote
		case c < 0x20 || c == '\\':
			t[c] = plainOther
		case c >= utf8.RuneSelf:
			t[c] = plainNonASCII
		}
	}
	return t
}()

// stringOrNull reads a plain string (see plainString) or null.
func (s *fastScanner) stringOrNull() (b []byte, null, ok bool) {
	if s.literal("null") {
		return nil, true, true
	}
	b, ok = s.plainString()
	return b, false, ok
}

// decodeString reads a plain string into *dst; null leaves *dst unchanged,
// as encoding/json does for a string.
func (s *fastScanner) decodeString(dst *string) bool {
	b, null, ok := s.stringOrNull()
	if ok && !null {
		*dst = string(b)
	}
	return ok
}

// decodeDecimal reads a decimal field as decimal.Decimal.UnmarshalJSON
// would: from a plain string (its content) or a JSON number (its text),
// parsed by decimal.Parse. null sets *dst to nil, as encoding/json does for
// a pointer. A value Parse rejects is declined.
func (s *fastScanner) decodeDecimal(dst **decimal.Decimal) bool {
	var text []byte
	switch {
	case s.literal("null"):
		*dst = nil
		return true
	case s.i < len(s.b) && s.b[s.i] == '"':
		b, ok := s.plainString()
		if !ok {
			return false
		}
		text = b
	default:
		b, ok := s.number()
		if !ok {
			return false
		}
		text = b
	}
	d, err := decimal.Parse(string(text))
	if err != nil {
		return false
	}
	if *dst == nil {
		*dst = new(decimal.Decimal)
	}
	**dst = d
	return true
}

// decodeTime reads a time field as Time.UnmarshalJSON would: from a plain
// string, parsed by ParseTime. null sets *dst to nil, as encoding/json does
// for a pointer. A string ParseTime rejects is declined, and so is a value
// of any other JSON type.
func (s *fastScanner) decodeTime(dst **Time) bool {
	if s.literal("null") {
		*dst = nil
		return true
	}
	b, ok := s.plainString()
	if !ok {
		return false
	}
	var (
		t   Time
		err error
	)
	if stored, ok := parseLayout(b); ok { // without ParseTime's string
		t = Time{stored}
	} else if t, err = ParseTime(string(b)); err != nil {
		return false
	}
	if *dst == nil {
		*dst = new(Time)
	}
	**dst = t
	return true
}

// number reads a JSON number (the strict grammar: no leading zeros, no '+',
// digits on both sides of '.') and returns its text.
func (s *fastScanner) number() ([]byte, bool) {
	start := s.i
	s.consume('-')
	switch {
	case s.consume('0'):
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.consume('.') && !s.digits() {
		return nil, false
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		if !s.digits() {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

// digits skips a run of decimal digits and reports whether there was one.
func (s *fastScanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
