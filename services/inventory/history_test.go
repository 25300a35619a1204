package inventory

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/store"
)

// history GETs the history route of id with query and fails unless it is
// the given status; it returns the body.
func (e *env) history(id, query string, status int) string {
	e.t.Helper()
	code, body := e.do(anon, "GET", "/api/v1/inventory/assets/"+id+"/history"+query, "")
	if code != status {
		e.t.Fatalf("history %s%s: %d %s", id, query, code, body)
	}
	return body
}

func TestHistoryRecordsEveryPriceChange(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	// Seeding wrote the first point.
	want := `{"asset_id":"BTC","interval":"raw","from":"2026-11-24T12:00:00.000000Z","to":"2026-11-25T12:00:00.000000Z","points":[{"t":"2026-11-25T12:00:00.000000Z","price":67250}],"truncated":false}`
	if got := e.history("btc", "", 200); got != want {
		t.Fatalf("after seeding:\n got %s\nwant %s", got, want)
	}
	steps := []struct {
		at   time.Duration
		do   func()
		note string
	}{
		{time.Minute, func() {
			e.mustDo(admin, "PUT", "/api/v1/admin/assets/BTC/price", `{"price_usd":"68000.01"}`)
		}, "admin set"},
		{2 * time.Minute, func() {
			e.mustDo(admin, "PUT", "/api/v1/admin/assets/BTC/price", `{"price_usd":68000.010}`)
		}, "same price: no point"},
		{3 * time.Minute, func() {
			if err := e.svc.ApplyTicks(ctx, []pricing.Tick{{AssetID: "BTC", Price: decimal.MustParse("67999.99999999")}}); err != nil {
				t.Fatal(err)
			}
		}, "feed tick"},
		{4 * time.Minute, func() {
			e.mustDo(admin, "PUT", "/api/v1/admin/assets/BTC", `{"name":"Bitcoin Core"}`)
		}, "no price change: no point"},
		{5 * time.Minute, func() {
			e.mustDo(admin, "PUT", "/api/v1/admin/assets/BTC", `{"price_usd":1e-8}`)
		}, "admin update of the price"},
		{5*time.Minute + time.Microsecond, func() {
			e.mustDo(admin, "POST", "/api/v1/admin/assets/BTC/deactivate", "")
		}, "no price change: no point"},
	}
	for _, s := range steps {
		e.clock.Set(t0.Add(s.at))
		s.do()
	}
	want = `{"asset_id":"BTC","interval":"raw","from":"2026-11-24T12:10:00.000000Z","to":"2026-11-25T12:10:00.000000Z","points":[` +
		`{"t":"2026-11-25T12:00:00.000000Z","price":67250},` +
		`{"t":"2026-11-25T12:01:00.000000Z","price":68000.01},` +
		`{"t":"2026-11-25T12:03:00.000000Z","price":67999.99999999},` +
		`{"t":"2026-11-25T12:05:00.000000Z","price":0.00000001}],"truncated":false}`
	e.clock.Set(t0.Add(10 * time.Minute))
	if got := e.history("BTC", "", 200); got != want {
		t.Fatalf("history:\n got %s\nwant %s", got, want)
	}
	// The points carry the versions that stored them; history items are
	// in no catalogue index.
	pts, truncated, err := e.d.Assets.PriceHistory(ctx, "BTC", t0, t0.Add(time.Hour), 100)
	if err != nil || truncated {
		t.Fatal(err, truncated)
	}
	var seqs []int64
	for _, p := range pts {
		seqs = append(seqs, p.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 4 6]" {
		t.Fatalf("seqs %v", seqs)
	}
	if p := e.list("?active_only=false&limit=250"); p.TotalCount != 24 || len(p.Data) != 24 {
		t.Fatalf("list: total %d, %d items", p.TotalCount, len(p.Data))
	}
}

// mustDo sends a request and fails unless it is a 2xx.
func (e *env) mustDo(who caller, method, path, body string) {
	e.t.Helper()
	if status, resp := e.do(who, method, path, body); status/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, status, resp)
	}
}

// TestHistoryBuckets checks ranges (inclusive at both ends) and OHLC buckets
// at minute, hour and day boundaries.
func TestHistoryBuckets(t *testing.T) {
	e := newEnv(t, true)
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	set := []struct {
		at    time.Time
		price string
	}{ // t0 = 12:00:00, the seeded 67250
		{day.Add(12*time.Hour + time.Minute - time.Microsecond), "67300"},
		{day.Add(12*time.Hour + time.Minute), "67100"},
		{day.Add(12*time.Hour + 90*time.Second), "67400"},
		{day.Add(12*time.Hour + 59*time.Minute + 59*time.Second), "67000"},
		{day.Add(13 * time.Hour), "67500"},
		{day.Add(24*time.Hour - time.Microsecond), "66000"},
		{day.Add(24 * time.Hour), "70000.5"},
	}
	for _, s := range set {
		e.clock.Set(s.at)
		e.mustDo(admin, "PUT", "/api/v1/admin/assets/BTC/price", `{"price_usd":"`+s.price+`"}`)
	}
	q := func(from, to time.Time, interval string) string {
		v := url.Values{}
		v.Set("from", from.Format(time.RFC3339Nano))
		v.Set("to", to.Format(time.RFC3339Nano))
		if interval != "" {
			v.Set("interval", interval)
		}
		return "?" + v.Encode()
	}
	ohlc := func(t, o, h, l, c string) string {
		return fmt.Sprintf(`{"t":"%s","open":%s,"high":%s,"low":%s,"close":%s}`, t, o, h, l, c)
	}
	raw := func(t, p string) string { return fmt.Sprintf(`{"t":"%s","price":%s}`, t, p) }
	noon := day.Add(12 * time.Hour)
	tests := []struct {
		name     string
		query    string
		interval string
		points   []string
	}{
		{"raw, both ends inclusive", q(noon, noon.Add(time.Minute), ""), "raw", []string{
			raw("2026-11-25T12:00:00.000000Z", "67250"), raw("2026-11-25T12:00:59.999999Z", "67300"), raw("2026-11-25T12:01:00.000000Z", "67100")}},
		{"raw, from one microsecond later", q(noon.Add(time.Microsecond), noon.Add(time.Minute-time.Microsecond), "raw"), "raw", []string{
			raw("2026-11-25T12:00:59.999999Z", "67300")}},
		{"raw, offset times", "?from=2026-11-25T13%3A00%3A00%2B01%3A00&to=2026-11-25T13%3A01%3A00.9%2B01%3A00", "raw", []string{
			raw("2026-11-25T12:00:00.000000Z", "67250"), raw("2026-11-25T12:00:59.999999Z", "67300"), raw("2026-11-25T12:01:00.000000Z", "67100")}},
		{"raw, empty range", q(day, noon.Add(-time.Microsecond), ""), "raw", nil},
		{"minute", q(noon, noon.Add(time.Hour), "minute"), "minute", []string{
			ohlc("2026-11-25T12:00:00.000000Z", "67250", "67300", "67250", "67300"),
			ohlc("2026-11-25T12:01:00.000000Z", "67100", "67400", "67100", "67400"),
			ohlc("2026-11-25T12:59:00.000000Z", "67000", "67000", "67000", "67000"),
			ohlc("2026-11-25T13:00:00.000000Z", "67500", "67500", "67500", "67500")}},
		{"minute, from inside a minute", q(noon.Add(30*time.Second), noon.Add(2*time.Minute), "minute"), "minute", []string{
			ohlc("2026-11-25T12:00:00.000000Z", "67300", "67300", "67300", "67300"),
			ohlc("2026-11-25T12:01:00.000000Z", "67100", "67400", "67100", "67400")}},
		{"hour", q(day, day.Add(24*time.Hour), "hour"), "hour", []string{
			ohlc("2026-11-25T12:00:00.000000Z", "67250", "67400", "67000", "67000"),
			ohlc("2026-11-25T13:00:00.000000Z", "67500", "67500", "67500", "67500"),
			ohlc("2026-11-25T23:00:00.000000Z", "66000", "66000", "66000", "66000"),
			ohlc("2026-11-26T00:00:00.000000Z", "70000.5", "70000.5", "70000.5", "70000.5")}},
		{"day", q(day.Add(-24*time.Hour), day.Add(48*time.Hour), "day"), "day", []string{
			ohlc("2026-11-25T00:00:00.000000Z", "67250", "67500", "66000", "66000"),
			ohlc("2026-11-26T00:00:00.000000Z", "70000.5", "70000.5", "70000.5", "70000.5")}},
		{"day, to just before midnight", q(day, day.Add(24*time.Hour-time.Microsecond), "day"), "day", []string{
			ohlc("2026-11-25T00:00:00.000000Z", "67250", "67500", "66000", "66000")}},
		{"day, nothing", q(day.Add(-72*time.Hour), day.Add(-time.Hour), "day"), "day", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := e.history("BTC", tc.query, 200)
			want := `"interval":"` + tc.interval + `",` // from/to echoed
			pts := `"points":[` + strings.Join(tc.points, ",") + `],"truncated":false}`
			if !strings.HasPrefix(body, `{"asset_id":"BTC",`+want) || !strings.HasSuffix(body, pts) {
				t.Fatalf("got  %s\nwant ...%s...%s", body, want, pts)
			}
		})
	}
	// from and to are echoed normalised (UTC, microseconds).
	body := e.history("BTC", "?from=2026-11-25T13%3A00%3A00.1234567%2B01%3A00&to=2026-11-25T12%3A30%3A00Z&interval=hour", 200)
	want := `{"asset_id":"BTC","interval":"hour","from":"2026-11-25T12:00:00.123456Z","to":"2026-11-25T12:30:00.000000Z",` +
		`"points":[` + ohlc("2026-11-25T12:00:00.000000Z", "67300", "67400", "67100", "67400") + `],"truncated":false}`
	if body != want {
		t.Fatalf("echo:\n got %s\nwant %s", body, want)
	}
}

func TestHistoryBadRequests(t *testing.T) {
	e := newEnv(t, true)
	inv := func(loc, msg, typ string) string {
		return `{"detail":[{"loc":["query","` + loc + `"],"msg":"` + msg + `","type":"` + typ + `"}],"code":"invalid"}`
	}
	tests := []struct {
		name, id, query string
		status          int
		want            string
	}{
		{"malformed id", "B-C", "", 422, invalidAssetPath},
		{"too long id", "ABCDEFGHIJK", "", 422, invalidAssetPath},
		{"unknown asset", "zzz9", "", 404, `{"detail":"asset ZZZ9 not found","code":"not_found"}`},
		{"unknown interval", "BTC", "?interval=week", 422, inv("interval", "Input should be 'raw', 'minute', 'hour' or 'day'", "enum")},
		{"interval case", "BTC", "?interval=Hour", 422, inv("interval", "Input should be 'raw', 'minute', 'hour' or 'day'", "enum")},
		{"bad from", "BTC", "?from=yesterday", 422, inv("from", "Input should be a valid RFC 3339 date-time", "datetime_parsing")},
		{"date only", "BTC", "?to=2026-11-25", 422, inv("to", "Input should be a valid RFC 3339 date-time", "datetime_parsing")},
		{"from after to", "BTC", "?from=2026-11-25T12:00:00.000001Z&to=2026-11-25T12:00:00Z", 422, inv("from", "must not be after to", "value_error")},
		{"too many minutes", "BTC", "?from=2026-11-24T00:00:00Z&to=2026-11-25T09:20:00Z&interval=minute", 422,
			inv("interval", "the range spans more than 2000 buckets of this interval: narrow it or use a longer interval", "value_error")},
		{"too many days", "BTC", "?from=2000-01-01T00:00:00Z&to=2026-11-25T00:00:00Z&interval=day", 422,
			inv("interval", "the range spans more than 2000 buckets of this interval: narrow it or use a longer interval", "value_error")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.history(tc.id, tc.query, tc.status); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// 2000 minute buckets are fine: 00:00 on the 24th to 09:19 on the 25th.
	e.history("BTC", "?from=2026-11-24T00:00:00Z&to=2026-11-25T09:19:59Z&interval=minute", 200)
	// Long raw ranges are fine: raw answers are capped instead.
	e.history("BTC", "?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", 200)
}

// writePoints records n points of id, one a second from start, priced
// 1, 2, ..., n, straight through the DAO's builder.
func writePoints(t *testing.T, d *dao.DAOs, id string, start time.Time, n int) {
	t.Helper()
	var batch []store.Write
	for i := 1; i <= n; i++ {
		batch = append(batch, d.Assets.PricePointWrite(id, decimal.FromInt(int64(i)), start.Add(time.Duration(i-1)*time.Second), int64(1000+i)))
		if len(batch) == store.MaxTransactItems || i == n {
			if err := d.Transact(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
}

func TestHistoryTruncation(t *testing.T) {
	e := newEnv(t, true)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	writePoints(t, e.d, "ETH", day, MaxRawPoints+1) // 00:00:00 .. 00:16:40
	e.clock.Set(day.Add(time.Hour))
	body := e.history("ETH", "", 200)
	if !strings.HasPrefix(body, `{"asset_id":"ETH","interval":"raw","from":"2026-11-25T01:00:00.000000Z","to":"2026-11-26T01:00:00.000000Z","points":[{"t":"2026-11-26T00:00:01.000000Z","price":2},`) ||
		!strings.HasSuffix(body, `{"t":"2026-11-26T00:16:40.000000Z","price":1001}],"truncated":true}`) ||
		strings.Count(body, `"price":`) != MaxRawPoints {
		t.Fatalf("raw: %.300s ... %s", body, body[len(body)-200:])
	}
	// Bucketed: reading only the 130 most recent points (00:14:31..00:16:40)
	// leaves the 00:14 minute incomplete, so it is left out.
	e.svc.historyScan = 130
	want := `"points":[{"t":"2026-11-26T00:15:00.000000Z","open":901,"high":960,"low":901,"close":960},` +
		`{"t":"2026-11-26T00:16:00.000000Z","open":961,"high":1001,"low":961,"close":1001}],"truncated":true}`
	if body := e.history("ETH", "?interval=minute", 200); !strings.HasSuffix(body, want) {
		t.Fatalf("minute: %s\nwant ...%s", body, want)
	}
	e.svc.historyScan = MaxHistoryScan
	want = `"points":[{"t":"2026-11-25T12:00:00.000000Z","open":3480.5,"high":3480.5,"low":3480.5,"close":3480.5},` +
		`{"t":"2026-11-26T00:00:00.000000Z","open":1,"high":1001,"low":1,"close":1001}],"truncated":false}`
	if body := e.history("ETH", "?interval=hour", 200); !strings.HasSuffix(body, want) {
		t.Fatalf("hour: %s\nwant ...%s", body, want)
	}
}

// TestHistoryConcurrentChanges races admin sets and feed ticks on one asset:
// every stored price is one point, with consecutive versions, and the last
// point is the stored price.
func TestHistoryConcurrentChanges(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	const workers, each = 4, 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				price := decimal.New(int64(100000+w*100+i), -2) // distinct prices
				var err error
				if w%2 == 0 {
					_, err = e.svc.setPrice(ctx, "SOL", price)
				} else {
					err = e.svc.ApplyTicks(ctx, []pricing.Tick{{AssetID: "SOL", Price: price}})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	pts, _, err := e.d.Assets.PriceHistory(ctx, "SOL", t0, t0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1+workers*each {
		t.Fatalf("%d points, want %d", len(pts), 1+workers*each)
	}
	for i, p := range pts {
		if p.Seq != int64(i+1) {
			t.Fatalf("point %d has seq %d", i, p.Seq)
		}
	}
	a, err := e.d.Assets.Get(ctx, "SOL")
	if err != nil || a.Version != int64(len(pts)) || !a.PriceUSD.Equal(pts[len(pts)-1].Price) {
		t.Fatalf("asset %v (%v), last point %v", a, err, pts[len(pts)-1])
	}
	if got := len(e.rec.take()); got != workers*each {
		t.Fatalf("%d hook calls", got)
	}
}

// TestHTTPFeedEndToEnd drives pricing.Step with the HTTP feed against a fake
// provider and the real service: exact prices and market data stored (the
// 24-hour high, low and change answered from the price history: the seeded
// price, then the provider's), a point and a hook call per changed price,
// nothing changed by a failing poll.
func TestHTTPFeedEndToEnd(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	var mu sync.Mutex
	answer, status := "", http.StatusOK
	prov := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	})
	respond := func(s int, body string) { mu.Lock(); status, answer = s, body; mu.Unlock() }
	feed, err := pricing.NewHTTP(pricing.HTTPConfig{URL: prov})
	if err != nil {
		t.Fatal(err)
	}
	respond(200, `[{"id":"bitcoin","symbol":"btc","current_price":67250.12345678,"high_24h":68000,"low_24h":66000.5,"market_cap":1400000000000,"price_change_percentage_24h":-1.5},
		{"id":"ethereum","symbol":"eth","current_price":3480.5},
		{"id":"ripple","symbol":"xrp","current_price":0.524,"total_volume":999}]`)
	e.clock.Set(t0.Add(time.Minute))
	if n := pricing.Step(ctx, feed, e.svc, quietLogger()); n != 3 {
		t.Fatalf("step applied %d ticks", n)
	}
	if got, want := e.rec.take(), []change{{"BTC", "67250", "67250.12345678"}}; !slices.Equal(got, want) {
		t.Fatalf("hooks %v", got)
	}
	_, body := e.do(anon, "GET", "/api/v1/inventory/assets/BTC", "")
	for _, w := range []string{`"price_usd":67250.12345678,`, `"market_cap":1400000000000,`, `"price_change_24h":0.12345678,"price_change_percentage_24h":0,`,
		`"high_24h":67250.12345678,"low_24h":67250,`, `"last_updated":"2026-11-25T12:01:00.000000Z"`} {
		if !strings.Contains(body, w) {
			t.Errorf("BTC lacks %s: %s", w, body)
		}
	}
	_, body = e.do(anon, "GET", "/api/v1/inventory/assets/XRP", "")
	if !strings.Contains(body, `"price_usd":0.524,`) || !strings.Contains(body, `"total_volume_24h":999,`) {
		t.Errorf("XRP: %s", body)
	}
	versions := func() string {
		var out []string
		for _, id := range []string{"BTC", "ETH", "XRP"} {
			a, err := e.d.Assets.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s=%s@%d", id, a.PriceUSD, a.Version))
		}
		return strings.Join(out, " ")
	}
	// ETH unchanged: no write; XRP market data only: written, no point.
	if v := versions(); v != "BTC=67250.12345678@2 ETH=3480.5@1 XRP=0.524@2" {
		t.Fatalf("versions %s", v)
	}
	e.clock.Set(t0.Add(2 * time.Minute))
	// Failing polls change nothing.
	for _, bad := range []struct {
		status int
		body   string
	}{{500, `[]`}, {200, `[{"id":"bitcoin","symbol":"btc","current_price":`}, {200, `{"status":"down"}`}} {
		respond(bad.status, bad.body)
		pricing.Step(ctx, feed, e.svc, quietLogger())
	}
	// The same answer again writes nothing.
	respond(200, `[{"id":"bitcoin","symbol":"btc","current_price":67250.12345678,"high_24h":68000,"low_24h":66000.5,"market_cap":1400000000000,"price_change_percentage_24h":-1.5}]`)
	pricing.Step(ctx, feed, e.svc, quietLogger())
	if v := versions(); v != "BTC=67250.12345678@2 ETH=3480.5@1 XRP=0.524@2" {
		t.Fatalf("versions after failures %s", v)
	}
	if got := e.rec.take(); len(got) != 0 {
		t.Fatalf("hooks %v", got)
	}
	want := `"points":[{"t":"2026-11-25T12:00:00.000000Z","price":67250},{"t":"2026-11-25T12:01:00.000000Z","price":67250.12345678}],"truncated":false}`
	if body := e.history("BTC", "", 200); !strings.HasSuffix(body, want) {
		t.Fatalf("history %s", body)
	}
	// Market data that breaks the asset rules rejects the tick.
	neg := decimal.MustParse("-1")
	err = e.svc.ApplyTicks(ctx, []pricing.Tick{{AssetID: "BTC", Price: decimal.FromInt(5), Market: &pricing.Market{Low24h: &neg}}})
	if err == nil || !strings.Contains(err.Error(), "tick BTC market data: low_24h: must not be negative") {
		t.Fatalf("err %v", err)
	}
}

// newHTTPServer serves handle on a loopback port for the test and returns its URL.
func newHTTPServer(t *testing.T, handle http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	return srv.URL
}
