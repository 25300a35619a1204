package entity

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// plainOrder and plainResponse have the fields (and tags) of Order and
// OrderResponse but none of their methods: encoding/json's encoding of them
// is the reference of the AppendJSON methods.
type (
	plainOrder    Order
	plainResponse OrderResponse
)

// stdJSON returns encoding/json's encoding of v with HTML escaping off and
// without the trailing newline (json.Encoder.Encode's output).
func stdJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return literalReplacementChar(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// literalReplacementChar rewrites each \ufffd escape in the JSON text b as
// the character U+FFFD: encoding/json before Go 1.27 writes invalid UTF-8
// as the escape, from Go 1.27 on as the character, which AppendJSON does
// too. Both spell the same JSON string; nothing else is changed, so the
// comparisons stay byte for byte on every Go version.
func literalReplacementChar(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		if bytes.HasPrefix(b[i:], []byte(`\ufffd`)) {
			out = append(out, "\ufffd"...)
			i += len(`\ufffd`) - 1
			continue
		}
		out = append(out, b[i], b[i+1]) // an escape: its second byte is never the start of one
		i++
	}
	return out
}

func TestLiteralReplacementChar(t *testing.T) {
	for in, want := range map[string]string{
		`"a\ufffdb"`: "\"a\ufffdb\"", `"\\ufffd"`: `"\\ufffd"`, `"\\\ufffd"`: "\"\\\\\ufffd\"",
		`"\uFFFD"`: `"\uFFFD"`, `"\u2028\ufffd\ufffd"`: "\"\\u2028\ufffd\ufffd\"", `\`: `\`,
	} {
		if got := string(literalReplacementChar([]byte(in))); got != want {
			t.Errorf("literalReplacementChar(%s) = %s, want %s", in, got, want)
		}
	}
}

func decPtr(s string) *decimal.Decimal {
	d := decimal.MustParse(s)
	return &d
}

// completedMarketOrder is a realistic market buy executed at once: four
// status changes, no optional prices but the client's price.
func completedMarketOrder() *Order {
	t0 := MustParseTime("2026-11-25T21:57:29.123456Z")
	at := func(ms int) Time { return At(t0.Add(time.Duration(ms) * time.Millisecond)) }
	return &Order{
		OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Username: "alice", OrderType: MarketBuy, AssetID: "BTC",
		Quantity: decimal.MustParse("0.5"), Price: decPtr("65000.12"),
		Status: StatusCompleted, TimeInForce: GTC, ClientOrderID: "my-order-1", Currency: USD,
		TotalAmount: decimal.MustParse("32500.06"), Fee: decimal.MustParse("32.50"),
		ExecutedQuantity: decimal.MustParse("0.5"), ExecutedPrice: decPtr("65000.12"),
		StatusHistory: []StatusChange{
			{Status: StatusPending, At: at(0)},
			{Status: StatusConfirmed, At: at(2)},
			{Status: StatusProcessing, At: at(3)},
			{Status: StatusCompleted, At: at(5), Reason: "filled at market"},
		},
		CreatedAt: at(0), UpdatedAt: at(5), Version: 4,
	}
}

const completedMarketOrderJSON = `{"order_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XA","username":"alice","order_type":"market_buy","asset_id":"BTC",` +
	`"quantity":"0.5","price":"65000.12","limit_price":null,"stop_price":null,"trail_percent":null,"trail_amount":null,` +
	`"high_water_mark":null,"status":"completed","time_in_force":"gtc","expires_at":null,"client_order_id":"my-order-1",` +
	`"currency":"USD","total_amount":"32500.06","fee":"32.5","held_amount":"0","held_quantity":"0","executed_quantity":"0.5",` +
	`"executed_price":"65000.12","oco_with":"","status_history":[{"status":"pending","at":"2026-11-25T21:57:29.123456Z"},` +
	`{"status":"confirmed","at":"2026-11-25T21:57:29.125456Z"},{"status":"processing","at":"2026-11-25T21:57:29.126456Z"},` +
	`{"status":"completed","at":"2026-11-25T21:57:29.128456Z","reason":"filled at market"}],` +
	`"created_at":"2026-11-25T21:57:29.123456Z","updated_at":"2026-11-25T21:57:29.128456Z","version":4}`

const completedMarketResponseJSON = `{"order_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XA","order_type":"market_buy","asset_id":"BTC",` +
	`"quantity":"0.5","price":"65000.12","limit_price":null,"stop_price":null,"trail_percent":null,"trail_amount":null,` +
	`"high_water_mark":null,"status":"completed","time_in_force":"gtc","expires_at":null,"client_order_id":"my-order-1",` +
	`"currency":"USD","total_amount":"32500.06","fee":"32.50","held_amount":"0.00","held_quantity":"0","executed_quantity":"0.5",` +
	`"executed_price":"65000.12","oco_with":null,"status_history":[{"status":"pending","at":"2026-11-25T21:57:29.123456Z"},` +
	`{"status":"confirmed","at":"2026-11-25T21:57:29.125456Z"},{"status":"processing","at":"2026-11-25T21:57:29.126456Z"},` +
	`{"status":"completed","at":"2026-11-25T21:57:29.128456Z","reason":"filled at market"}],` +
	`"created_at":"2026-11-25T21:57:29.123456Z","updated_at":"2026-11-25T21:57:29.128456Z"}`

// queuedTrailingStop has every optional field set, a non-UTC time with
// nanoseconds, and text that encoding/json escapes.
func queuedTrailingStop() *Order {
	paris := time.FixedZone("CET", 3600)
	return &Order{
		OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XB", Username: "bob", OrderType: TrailingStop, AssetID: "ETH",
		Quantity: decimal.MustParse("12"), LimitPrice: decPtr("3100"), StopPrice: decPtr("2900.5"),
		TrailPercent: decPtr("2.5"), TrailAmount: decPtr("75"), HighWaterMark: decPtr("3000.123"),
		Status: StatusQueued, TimeInForce: GTD, ExpiresAt: &Time{time.Date(2026, 12, 1, 1, 2, 3, 456789999, paris)},
		ClientOrderID: "a<b>&c", Currency: JPY, HeldQuantity: decimal.MustParse("12"),
		OCOWith: "line\u2028sep\x00\x1f\"\\\xff",
		StatusHistory: []StatusChange{
			{Status: StatusPending, At: MustParseTime("0001-01-01T00:00:00.000001Z"), Reason: "tab\there\nnl\rcr\bbs\fff"},
			{Status: StatusQueued, Reason: "é€😀 \u2029"},
		},
		CreatedAt: MustParseTime("9999-12-31T23:59:59.999999Z"), Version: math.MinInt64,
	}
}

const queuedTrailingStopJSON = `{"order_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XB","username":"bob","order_type":"trailing_stop","asset_id":"ETH",` +
	`"quantity":"12","price":null,"limit_price":"3100","stop_price":"2900.5","trail_percent":"2.5","trail_amount":"75",` +
	`"high_water_mark":"3000.123","status":"queued","time_in_force":"gtd","expires_at":"2026-12-01T00:02:03.456789Z",` +
	`"client_order_id":"a<b>&c","currency":"JPY","total_amount":"0","fee":"0","held_amount":"0","held_quantity":"12",` +
	`"executed_quantity":"0","executed_price":null,"oco_with":"line\u2028sep\u0000\u001f\"\\` + "\ufffd" + `",` +
	`"status_history":[{"status":"pending","at":"0001-01-01T00:00:00.000001Z","reason":"tab\there\nnl\rcr\bbs\fff"},` +
	`{"status":"queued","at":null,"reason":"é€😀 \u2029"}],` +
	`"created_at":"9999-12-31T23:59:59.999999Z","updated_at":null,"version":-9223372036854775808}`

const zeroOrderJSON = `{"order_id":"","username":"","order_type":"","asset_id":"","quantity":"0","price":null,` +
	`"limit_price":null,"stop_price":null,"trail_percent":null,"trail_amount":null,"high_water_mark":null,"status":"",` +
	`"time_in_force":"","expires_at":null,"client_order_id":"","currency":"","total_amount":"0","fee":"0",` +
	`"held_amount":"0","held_quantity":"0","executed_quantity":"0","executed_price":null,"oco_with":"",` +
	`"status_history":null,"created_at":null,"updated_at":null,"version":0}`

func TestOrderAppendJSON(t *testing.T) {
	big := &Order{OrderID: "o", Quantity: decimal.MustParse("1.5e40"), ExecutedPrice: decPtr("9.99e125"),
		StatusHistory: []StatusChange{}, Version: 7}
	const bigJSON = `{"order_id":"o","username":"","order_type":"","asset_id":"","quantity":"1.5E+40","price":null,` +
		`"limit_price":null,"stop_price":null,"trail_percent":null,"trail_amount":null,"high_water_mark":null,"status":"",` +
		`"time_in_force":"","expires_at":null,"client_order_id":"","currency":"","total_amount":"0","fee":"0",` +
		`"held_amount":"0","held_quantity":"0","executed_quantity":"0","executed_price":"9.99E+125","oco_with":"",` +
		`"status_history":[],"created_at":null,"updated_at":null,"version":7}`
	tests := []struct {
		name      string
		o         *Order
		want      string
		roundTrip bool // valid UTF-8, UTC times: decoding and encoding again gives want
	}{
		{"completed market order", completedMarketOrder(), completedMarketOrderJSON, true},
		{"queued trailing stop", queuedTrailingStop(), queuedTrailingStopJSON, false},
		{"zero order", &Order{}, zeroOrderJSON, true},
		{"scientific decimals, empty history", big, bigJSON, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.AppendJSON([]byte("prefix:"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix:"+tt.want {
				t.Fatalf("AppendJSON =\n%s\nwant\n%s", got, "prefix:"+tt.want)
			}
			std, err := stdJSON((*plainOrder)(tt.o))
			if err != nil {
				t.Fatal(err)
			}
			if string(std) != tt.want {
				t.Fatalf("encoding/json =\n%s\nwant\n%s", std, tt.want)
			}
			var back Order
			if err := json.Unmarshal(got[len("prefix:"):], &back); err != nil {
				t.Fatal(err)
			}
			if again, err := back.AppendJSON(nil); tt.roundTrip && (err != nil || string(again) != tt.want) {
				t.Fatalf("round trip = %s, %v", again, err)
			}
		})
	}
}

func TestOrderAppendJSONOutOfRange(t *testing.T) {
	huge := decimal.MustParse("1e100").Mul(decimal.MustParse("1e100"))
	for _, set := range []func(o *Order){
		func(o *Order) { o.Quantity = huge },
		func(o *Order) { o.Fee = huge },
		func(o *Order) { o.HighWaterMark = &huge },
	} {
		o := completedMarketOrder()
		set(o)
		if _, err := stdJSON((*plainOrder)(o)); err == nil {
			t.Fatal("encoding/json encoded 1E+200")
		}
		dst := []byte("keep")
		got, err := o.AppendJSON(dst)
		if !errors.Is(err, decimal.ErrInvalid) || string(got) != "keep" {
			t.Fatalf("AppendJSON = %q, %v", got, err)
		}
		if !strings.HasPrefix(err.Error(), `encode order "01JDQ8Z3V6W5N2T8K4M0R7P9XA": `) ||
			!strings.Contains(err.Error(), "decimal out of range: 1E+200") {
			t.Errorf("error %q", err)
		}
	}
	o := completedMarketOrder()
	o.Fee, o.ExecutedPrice = huge, &huge
	_, err := o.AppendJSON(nil)
	if err == nil || err.Error() != `encode order "01JDQ8Z3V6W5N2T8K4M0R7P9XA": fee: decimal out of range: 1E+200: invalid decimal` {
		t.Errorf("first error: %v", err)
	}
}

func TestOrderResponseAppendJSON(t *testing.T) {
	r := completedMarketOrder().Response()
	got := r.AppendJSON([]byte("x"))
	if string(got) != "x"+completedMarketResponseJSON {
		t.Fatalf("AppendJSON =\n%s\nwant\n%s", got, completedMarketResponseJSON)
	}
	for _, o := range []*Order{completedMarketOrder(), queuedTrailingStop(), {}} {
		r := o.Response()
		want, err := stdJSON((*plainResponse)(&r))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("AppendJSON =\n%s\nwant\n%s", got, want)
		}
	}
	// A response built by hand may have a nil history: null, like encoding/json.
	var empty OrderResponse
	want := `{"order_id":"","order_type":"","asset_id":"","quantity":"","price":null,"limit_price":null,` +
		`"stop_price":null,"trail_percent":null,"trail_amount":null,"high_water_mark":null,"status":"",` +
		`"time_in_force":"","expires_at":null,"client_order_id":null,"currency":"","total_amount":"","fee":"",` +
		`"held_amount":"","held_quantity":"","executed_quantity":"","executed_price":null,"oco_with":null,` +
		`"status_history":null,"created_at":null,"updated_at":null}`
	if got := empty.AppendJSON(nil); string(got) != want {
		t.Errorf("empty response = %s", got)
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain-ID_09", `"plain-ID_09"`},
		{"<a href=\"x\">&amp;</a>", `"<a href=\"x\">&amp;</a>"`},
		{"\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f \x7f", `"\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f ` + "\x7f" + `"`},
		{`back\slash`, `"back\\slash"`},
		{"\u2028\u2029\u202a", `"\u2028\u2029` + "\u202a" + `"`},
		{"bad\xffutf8\xc3", "\"bad\ufffdutf8\ufffd\""},
		{"\xed\xa0\x80", "\"\ufffd\ufffd\ufffd\""}, // a UTF-16 surrogate encoded as UTF-8 is invalid
		{"\ufffd", "\"\ufffd\""},
		{"héllo 世界 😀", `"héllo 世界 😀"`},
	}
	for _, tt := range tests {
		if got := appendJSONString(nil, tt.in); string(got) != tt.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if std, _ := stdJSON(tt.in); string(std) != tt.want {
			t.Errorf("encoding/json(%q) = %s, want %s", tt.in, std, tt.want)
		}
	}
}

// TestAppendJSONStringExhaustive compares appendJSONString with encoding/json
// on every rune, every byte alone and every invalid two-byte sequence.
func TestAppendJSONStringExhaustive(t *testing.T) {
	var b strings.Builder
	for r := rune(0); r <= utf8.MaxRune; r++ {
		b.WriteRune(r)
	}
	for c := 0; c < 256; c++ {
		b.WriteByte(byte(c))
		b.WriteByte('a')
	}
	for c := 0x80; c < 0x100; c++ {
		for d := 0; d < 0x100; d += 7 {
			b.WriteByte(byte(c))
			b.WriteByte(byte(d))
		}
	}
	s := b.String()
	want, err := stdJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("differs at byte %d: got %q, want %q", i, got[i:min(i+20, len(got))], want[i:min(i+20, len(want))])
	}
}

func TestAppendJSONTime(t *testing.T) {
	tests := []struct {
		t    Time
		want string
	}{
		{Time{}, `null`},
		{MustParseTime("2026-11-25T21:57:29.123456Z"), `"2026-11-25T21:57:29.123456Z"`},
		{Time{time.Date(2026, 1, 2, 3, 4, 5, 6999, time.UTC)}, `"2026-01-02T03:04:05.000006Z"`},
		{Time{time.Date(2027, 1, 1, 0, 30, 0, 999999999, time.FixedZone("X", 3600))}, `"2026-12-31T23:30:00.999999Z"`},
		{Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, `"0000-01-01T00:00:00.000000Z"`},
		{Time{time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)}, `"0001-01-01T00:00:00.000001Z"`},
		{Time{time.Date(999, 3, 4, 5, 6, 7, 0, time.UTC)}, `"0999-03-04T05:06:07.000000Z"`},
		{Time{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}, `"9999-12-31T23:59:59.999999Z"`},
		{Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, `"10000-01-01T00:00:00.000000Z"`},
		{Time{time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC)}, `"-0001-12-31T23:59:59.000000Z"`},
		{Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("Y", -60))}, `"0001-01-01T00:01:00.000000Z"`},
		{Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("Z", 60))}, `"0000-12-31T23:59:00.000000Z"`},
	}
	for _, tt := range tests {
		if got := appendJSONTime([]byte("t="), tt.t); string(got) != "t="+tt.want {
			t.Errorf("appendJSONTime(%v) = %s, want %s", tt.t.Time, got, tt.want)
		}
		if std, err := tt.t.MarshalJSON(); err != nil || string(std) != tt.want {
			t.Errorf("MarshalJSON(%v) = %s, %v, want %s", tt.t.Time, std, err, tt.want)
		}
	}
	// Spread over years 0000-9999 and beyond, against AppendFormat.
	for sec := int64(-70000000000); sec < 300000000000; sec += 86399*997 + 12345 {
		tm := Time{time.Unix(sec, sec%1000000000).In(time.FixedZone("Q", int(sec%50000)))}
		want, _ := tm.MarshalJSON()
		if got := appendJSONTime(nil, tm); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONTime(%v) = %s, want %s", tm.Time, got, want)
		}
		if got, want := FormatTime(tm.Time), tm.UTC().Format(TimeLayout); got != want {
			t.Fatalf("FormatTime(%v) = %s, want %s", tm.Time, got, want)
		}
	}
}

// fuzzDecimal returns the decimal s parses to, or nil.
func fuzzDecimal(s string) *decimal.Decimal {
	d, err := decimal.Parse(s)
	if err != nil {
		return nil
	}
	return &d
}

// fuzzTime returns a time derived from sec and nsec in one of a few zones,
// or the zero Time.
func fuzzTime(sec, nsec int64, zero bool) Time {
	if zero {
		return Time{}
	}
	zones := [...]*time.Location{time.UTC, time.FixedZone("A", -12*3600-17), time.FixedZone("B", 14*3600)}
	return Time{time.Unix(sec, nsec).In(zones[uint64(sec)%uint64(len(zones))])}
}

func FuzzOrderJSON(f *testing.F) {
	f.Add("01JDQ8Z3V6W5N2T8K4M0R7P9XA", "my-order-1", "", "filled", "market_buy|completed|gtc|USD",
		"0.5,65000.12,,,,,,32500.06,32.5,0,0,0.5,65000.12", uint32(0), int64(1795550249), int64(123456789), int64(1000), int64(4))
	f.Add("o<1>&", "c\x00\"\\\xff", "oco\u2028\u2029", "r\n\t\b\f\r\x1f\xc3", "a|b\x7f|c|\xe2\x80",
		"1e40,-0.00000001,1E+125,9.99e125,12,x,,1,,,,,", uint32(0xFFFF), int64(-62135596800), int64(-1), int64(86400*365*9000), int64(-9))
	f.Add("", "", "", "", "", "", uint32(0xAAAA5555), int64(math.MaxInt64), int64(math.MinInt64), int64(-1), int64(0))
	f.Add("id", "c", "o", "", "x|y|z|w", "1e125,1e125", uint32(1<<20), int64(253402300799), int64(999999999), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, id, client, oco, reason, enums, decs string, flags uint32, sec, nsec, step, version int64) {
		en := strings.SplitN(enums, "|", 4)
		en = append(en, "", "", "", "")
		ds := strings.Split(decs, ",")
		ds = append(ds, make([]string, 13)...)
		val := func(i int) decimal.Decimal {
			if d := fuzzDecimal(ds[i]); d != nil {
				return *d
			}
			return decimal.Zero
		}
		bit := func(i int) bool { return flags&(1<<i) != 0 }
		o := &Order{
			OrderID: id, Username: client + oco, OrderType: OrderType(en[0]), AssetID: reason,
			Quantity: val(0), Price: fuzzDecimal(ds[1]), LimitPrice: fuzzDecimal(ds[2]), StopPrice: fuzzDecimal(ds[3]),
			TrailPercent: fuzzDecimal(ds[4]), TrailAmount: fuzzDecimal(ds[5]), HighWaterMark: fuzzDecimal(ds[6]),
			Status: OrderStatus(en[1]), TimeInForce: TimeInForce(en[2]), ClientOrderID: client, Currency: Currency(en[3]),
			TotalAmount: val(7), Fee: val(8), HeldAmount: val(9), HeldQuantity: val(10), ExecutedQuantity: val(11),
			ExecutedPrice: fuzzDecimal(ds[12]), OCOWith: oco,
			CreatedAt: fuzzTime(sec, nsec, bit(0)), UpdatedAt: fuzzTime(sec+step, nsec, bit(1)), Version: version,
		}
		if bit(2) {
			e := fuzzTime(sec-step, nsec+step, bit(3))
			o.ExpiresAt = &e
		}
		if !bit(4) {
			o.StatusHistory = []StatusChange{} // non-nil, maybe empty
		}
		for i := range int(flags>>8) % 6 {
			c := StatusChange{Status: OrderStatus(en[i%4]), At: fuzzTime(sec+int64(i)*step, nsec, bit(5+i))}
			if bit(11 + i) {
				c.Reason = reason
			}
			o.StatusHistory = append(o.StatusHistory, c)
		}
		if bit(20) { // arithmetic may leave Parse's range: an encoding error
			o.TotalAmount = o.Quantity.Mul(val(1))
		}

		want, wantErr := stdJSON((*plainOrder)(o))
		got, err := o.AppendJSON([]byte("#"))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("AppendJSON error %v, encoding/json error %v", err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, decimal.ErrInvalid) || string(got) != "#" {
				t.Fatalf("AppendJSON = %q, %v", got, err)
			}
			return
		}
		if string(got) != "#"+string(want) {
			t.Fatalf("AppendJSON =\n%s\nencoding/json =\n%s", got[1:], want)
		}
		if !json.Valid(got[1:]) {
			t.Fatalf("invalid JSON %s", got[1:])
		}

		r := o.Response()
		want, err = stdJSON((*plainResponse)(&r))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("response AppendJSON =\n%s\nencoding/json =\n%s", got, want)
		}
	})
}

var sinkJSON []byte

func BenchmarkOrderJSON(b *testing.B) {
	o := completedMarketOrder()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkJSON, _ = json.Marshal(o)
		}
	})
	b.Run("AppendJSON/new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkJSON, _ = o.AppendJSON(nil)
		}
	})
	b.Run("AppendJSON/reuse", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			sinkJSON, _ = o.AppendJSON(buf[:0])
		}
	})
}

func BenchmarkOrderResponseJSON(b *testing.B) {
	r := completedMarketOrder().Response()
	b.Run("json.Encoder", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(r)
		}
	})
	b.Run("AppendJSON/reuse", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			sinkJSON = r.AppendJSON(buf[:0])
		}
	})
}
