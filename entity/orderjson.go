package entity

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Hand-written JSON encoders for the order hot path (storing an order
// document, answering the order routes). Their output is byte-identical to
// encoding/json's with HTML escaping off (json.Encoder with
// SetEscapeHTML(false), without Encode's trailing newline); the tests and
// FuzzOrderJSON compare the two.

// jsonSafe reports the ASCII bytes encoding/json writes unescaped inside a
// string when HTML escaping is off: everything but the control characters,
// '"' and '\\' (DEL included).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string with encoding/json's rules
// without HTML escaping: '"' and '\\' backslash-escaped; \b, \f, \n, \r, \t
// short-escaped and the other control characters as \u00XX; each byte of
// invalid UTF-8 as the character U+FFFD, unescaped (as encoding/json from
// Go 1.27 on; older versions escape it); U+2028 and U+2029 as \u2028 and
// \u2029; every other character (including <, > and &) as is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONStringPtr appends *s as a JSON string, or null for nil.
func appendJSONStringPtr(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}

// appendTimeText appends t in TimeLayout: the same text as
// t.UTC().AppendFormat(dst, TimeLayout), written directly for years
// 0000-9999 (AppendFormat is used outside them).
func appendTimeText(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	us := t.Nanosecond() / 1000 // the layout truncates to the microsecond
	var b [len(TimeLayout)]byte
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	b[4] = '-'
	put2(b[5:], int(month))
	b[7] = '-'
	put2(b[8:], day)
	b[10] = 'T'
	put2(b[11:], hour)
	b[13] = ':'
	put2(b[14:], minute)
	b[16] = ':'
	put2(b[17:], sec)
	b[19] = '.'
	put2(b[20:], us/10000)
	put2(b[22:], us/100%100)
	put2(b[24:], us%100)
	b[26] = 'Z'
	return append(dst, b[:]...)
}

// put2 writes v (0-99) as two digits to b[0:2].
func put2(b []byte, v int) {
	u := uint(v)
	b[0], b[1] = byte('0'+u/10), byte('0'+u%10)
}

// appendJSONTime appends t as Time.MarshalJSON writes it: a JSON string in
// TimeLayout, or null for the zero Time.
func appendJSONTime(dst []byte, t Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = appendTimeText(dst, t.Time)
	return append(dst, '"')
}

// appendJSONTimePtr appends *t like appendJSONTime, or null for nil.
func appendJSONTimePtr(dst []byte, t *Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	return appendJSONTime(dst, *t)
}

// appendJSONDecimal appends d as decimal.Decimal.MarshalJSON writes it (a
// JSON string of its canonical text), failing like MarshalJSON for a value
// beyond decimal.Parse's range; on error dst is returned unchanged.
func appendJSONDecimal(dst []byte, d decimal.Decimal) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '"')
	dst = d.Append(dst)
	// Only values of 1E+38 or more are written in scientific form, and only
	// those can be out of range: let MarshalJSON decide for them.
	if bytes.IndexByte(dst[start:], 'E') >= 0 {
		b, err := d.MarshalJSON()
		if err != nil {
			return dst[:start], err
		}
		return append(dst[:start], b...), nil
	}
	return append(dst, '"'), nil
}

// appendStatusHistory appends h as encoding/json encodes a []StatusChange
// (null for a nil slice, reason omitted when empty).
func appendStatusHistory(dst []byte, h []StatusChange) []byte {
	if h == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range h {
		c := &h[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"status":`...)
		dst = appendJSONString(dst, string(c.Status))
		dst = append(dst, `,"at":`...)
		dst = appendJSONTime(dst, c.At)
		if c.Reason != "" {
			dst = append(dst, `,"reason":`...)
			dst = appendJSONString(dst, c.Reason)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// Buffer sizes that fit a typical order's JSON, so that an empty dst grows once.
const (
	orderJSONSize  = 640
	changeJSONSize = 80
)

// orderWriter appends the decimal fields of an order, keeping the first error.
type orderWriter struct {
	b   []byte
	err error
}

// dec appends key (`,"name":`) and d.
func (w *orderWriter) dec(key string, d decimal.Decimal) {
	w.b = append(w.b, key...)
	var err error
	w.b, err = appendJSONDecimal(w.b, d)
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("%s: %w", strings.Trim(key, `,":`), err)
	}
}

// decPtr appends key and *d, or null for nil.
func (w *orderWriter) decPtr(key string, d *decimal.Decimal) {
	if d == nil {
		w.b = append(w.b, key...)
		w.b = append(w.b, "null"...)
		return
	}
	w.dec(key, *d)
}

// AppendJSON appends o's JSON document to dst and returns the extended
// slice: the same bytes as encoding/json's encoding of o with HTML escaping
// off (json.Encoder with SetEscapeHTML(false), without the trailing newline),
// so json.Unmarshal reads it back into an equal Order. It fails, returning
// dst unchanged, only when a decimal is beyond decimal.Parse's range (as
// decimal.Decimal.MarshalJSON does).
func (o *Order) AppendJSON(dst []byte) ([]byte, error) {
	start := len(dst)
	w := orderWriter{b: slices.Grow(dst, orderJSONSize+changeJSONSize*len(o.StatusHistory))}
	w.b = append(w.b, `{"order_id":`...)
	w.b = appendJSONString(w.b, o.OrderID)
	w.b = append(w.b, `,"username":`...)
	w.b = appendJSONString(w.b, o.Username)
	w.b = append(w.b, `,"order_type":`...)
	w.b = appendJSONString(w.b, string(o.OrderType))
	w.b = append(w.b, `,"asset_id":`...)
	w.b = appendJSONString(w.b, o.AssetID)
	w.dec(`,"quantity":`, o.Quantity)
	w.decPtr(`,"price":`, o.Price)
	w.decPtr(`,"limit_price":`, o.LimitPrice)
	w.decPtr(`,"stop_price":`, o.StopPrice)
	w.decPtr(`,"trail_percent":`, o.TrailPercent)
	w.decPtr(`,"trail_amount":`, o.TrailAmount)
	w.decPtr(`,"high_water_mark":`, o.HighWaterMark)
	w.b = append(w.b, `,"status":`...)
	w.b = appendJSONString(w.b, string(o.Status))
	w.b = append(w.b, `,"time_in_force":`...)
	w.b = appendJSONString(w.b, string(o.TimeInForce))
	w.b = append(w.b, `,"expires_at":`...)
	w.b = appendJSONTimePtr(w.b, o.ExpiresAt)
	w.b = append(w.b, `,"client_order_id":`...)
	w.b = appendJSONString(w.b, o.ClientOrderID)
	w.b = append(w.b, `,"currency":`...)
	w.b = appendJSONString(w.b, string(o.Currency))
	if o.FXRate != nil {
		w.dec(`,"fx_rate":`, *o.FXRate)
	}
	w.dec(`,"total_amount":`, o.TotalAmount)
	w.dec(`,"fee":`, o.Fee)
	w.dec(`,"held_amount":`, o.HeldAmount)
	w.dec(`,"held_quantity":`, o.HeldQuantity)
	w.dec(`,"executed_quantity":`, o.ExecutedQuantity)
	w.decPtr(`,"executed_price":`, o.ExecutedPrice)
	w.b = append(w.b, `,"oco_with":`...)
	w.b = appendJSONString(w.b, o.OCOWith)
	w.b = append(w.b, `,"status_history":`...)
	w.b = appendStatusHistory(w.b, o.StatusHistory)
	w.b = append(w.b, `,"created_at":`...)
	w.b = appendJSONTime(w.b, o.CreatedAt)
	w.b = append(w.b, `,"updated_at":`...)
	w.b = appendJSONTime(w.b, o.UpdatedAt)
	w.b = append(w.b, `,"version":`...)
	w.b = strconv.AppendInt(w.b, o.Version, 10)
	w.b = append(w.b, '}')
	if w.err != nil {
		return w.b[:start], fmt.Errorf("encode order %q: %w", o.OrderID, w.err)
	}
	return w.b, nil
}

// AppendJSON appends r's JSON to dst and returns the extended slice: the
// same bytes as encoding/json's encoding of r with HTML escaping off
// (json.Encoder with SetEscapeHTML(false), without the trailing newline).
func (r *OrderResponse) AppendJSON(dst []byte) []byte {
	dst = slices.Grow(dst, orderJSONSize+changeJSONSize*len(r.StatusHistory))
	dst = append(dst, `{"order_id":`...)
	dst = appendJSONString(dst, r.OrderID)
	dst = append(dst, `,"order_type":`...)
	dst = appendJSONString(dst, string(r.OrderType))
	dst = append(dst, `,"asset_id":`...)
	dst = appendJSONString(dst, r.AssetID)
	dst = append(dst, `,"quantity":`...)
	dst = appendJSONString(dst, r.Quantity)
	dst = append(dst, `,"price":`...)
	dst = appendJSONStringPtr(dst, r.Price)
	dst = append(dst, `,"limit_price":`...)
	dst = appendJSONStringPtr(dst, r.LimitPrice)
	dst = append(dst, `,"stop_price":`...)
	dst = appendJSONStringPtr(dst, r.StopPrice)
	dst = append(dst, `,"trail_percent":`...)
	dst = appendJSONStringPtr(dst, r.TrailPercent)
	dst = append(dst, `,"trail_amount":`...)
	dst = appendJSONStringPtr(dst, r.TrailAmount)
	dst = append(dst, `,"high_water_mark":`...)
	dst = appendJSONStringPtr(dst, r.HighWaterMark)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(r.Status))
	dst = append(dst, `,"time_in_force":`...)
	dst = appendJSONString(dst, string(r.TimeInForce))
	dst = append(dst, `,"expires_at":`...)
	dst = appendJSONTimePtr(dst, r.ExpiresAt)
	dst = append(dst, `,"client_order_id":`...)
	dst = appendJSONStringPtr(dst, r.ClientOrderID)
	dst = append(dst, `,"currency":`...)
	dst = appendJSONString(dst, string(r.Currency))
	if r.FXRate != nil {
		dst = append(dst, `,"fx_rate":`...)
		dst = appendJSONString(dst, *r.FXRate)
	}
	dst = append(dst, `,"total_amount":`...)
	dst = appendJSONString(dst, r.TotalAmount)
	dst = append(dst, `,"fee":`...)
	dst = appendJSONString(dst, r.Fee)
	dst = append(dst, `,"held_amount":`...)
	dst = appendJSONString(dst, r.HeldAmount)
	dst = append(dst, `,"held_quantity":`...)
	dst = appendJSONString(dst, r.HeldQuantity)
	dst = append(dst, `,"executed_quantity":`...)
	dst = appendJSONString(dst, r.ExecutedQuantity)
	dst = append(dst, `,"executed_price":`...)
	dst = appendJSONStringPtr(dst, r.ExecutedPrice)
	dst = append(dst, `,"oco_with":`...)
	dst = appendJSONStringPtr(dst, r.OCOWith)
	dst = append(dst, `,"status_history":`...)
	dst = appendStatusHistory(dst, r.StatusHistory)
	dst = append(dst, `,"created_at":`...)
	dst = appendJSONTime(dst, r.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendJSONTime(dst, r.UpdatedAt)
	return append(dst, '}')
}
