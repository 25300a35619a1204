package inventory

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/orderprocessor/orderprocessor/catalog"
)

// rankOrder is the seeded catalogue in market-cap rank order.
var rankOrder = []string{"BTC", "ETH", "USDT", "BNB", "SOL", "USDC", "XRP", "DOGE", "TON", "ADA",
	"AVAX", "TRX", "DOT", "LINK", "MATIC", "LTC", "BCH", "SHIB", "UNI", "ATOM", "XLM", "NEAR", "APT", "FIL"}

var layer1 = []string{"BTC", "ETH", "SOL", "TON", "ADA", "AVAX", "TRX", "NEAR", "APT"}

// without returns ids minus drop, in order.
func without(ids []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return slices.Contains(drop, s) })
}

// The list item of BTC, exactly: every field present, nulls for the
// unknown, numbers as JSON numbers in canonical form (67250.00 -> 67250).
const btcItem = `{"asset_id":"BTC","name":"Bitcoin","description":"The first decentralised digital currency, secured by proof of work.","category":"layer-1","price_usd":67250,"is_active":true,"symbol":"btc","image":null,"market_cap_rank":1,"price_change_percentage_24h":0,"market_cap":1327000000000,"total_volume_24h":28500000000}`

func TestListShape(t *testing.T) {
	e := newEnv(t, true)
	status, body := e.do(anon, "GET", PathAssets+"?limit=2", "")
	if status != http.StatusOK {
		t.Fatalf("status %d %s", status, body)
	}
	var p listPage
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Data) != 2 || string(p.Data[0]) != btcItem {
		t.Fatalf("first item\n got %s\nwant %s", p.Data[0], btcItem)
	}
	wantETH := `{"asset_id":"ETH","name":"Ethereum","description":"A programmable blockchain for smart contracts and decentralised applications.","category":"layer-1","price_usd":3480.5,"is_active":true,"symbol":"eth","image":null,"market_cap_rank":2,"price_change_percentage_24h":0,"market_cap":418000000000,"total_volume_24h":15200000000}`
	if string(p.Data[1]) != wantETH {
		t.Fatalf("second item\n got %s\nwant %s", p.Data[1], wantETH)
	}
	if p.TotalCount != 24 || p.ActiveCount != 24 || p.NextCursor == nil || *p.NextCursor == "" {
		t.Fatalf("counts/cursor: %d %d %v", p.TotalCount, p.ActiveCount, p.NextCursor)
	}
	// The envelope has exactly these keys.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &keys); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"active_count", "data", "next_cursor", "total_count"}; !slices.Equal(got, want) {
		t.Fatalf("envelope keys %v, want %v", got, want)
	}
}

func TestListSmallPrices(t *testing.T) {
	// SHIB's price has 8 places and its market data spans 15 orders of
	// magnitude; all stay exact JSON numbers.
	e := newEnv(t, true)
	p := e.list("?category=meme")
	if got := p.ids(t); !slices.Equal(got, []string{"DOGE", "SHIB"}) {
		t.Fatalf("meme ids %v", got)
	}
	want := `{"asset_id":"SHIB","name":"Shiba Inu","description":"A community-driven meme token on Ethereum.","category":"meme","price_usd":0.0000245,"is_active":true,"symbol":"shib","image":null,"market_cap_rank":18,"price_change_percentage_24h":0,"market_cap":14400000000,"total_volume_24h":520000000}`
	if string(p.Data[1]) != want {
		t.Fatalf("SHIB\n got %s\nwant %s", p.Data[1], want)
	}
	if p.TotalCount != 2 || p.ActiveCount != 2 || p.NextCursor != nil {
		t.Fatalf("counts/cursor: %d %d %v", p.TotalCount, p.ActiveCount, p.NextCursor)
	}
}

// collect follows next_cursor from the first page of query and returns the
// ids of every page and the number of pages.
func (e *env) collect(query string, limit int) (ids []string, pages []int, first *listPage) {
	e.t.Helper()
	cursor := ""
	for n := 0; ; n++ {
		if n > 100 {
			e.t.Fatalf("no end of pages")
		}
		q := query + "&limit=" + strconv.Itoa(limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := e.list(q)
		if first == nil {
			first = p
		}
		if len(p.Data) > limit {
			e.t.Fatalf("page of %d items with limit %d", len(p.Data), limit)
		}
		ids = append(ids, p.ids(e.t)...)
		pages = append(pages, len(p.Data))
		if p.NextCursor == nil {
			return ids, pages, first
		}
		if *p.NextCursor == "" || len(p.Data) == 0 {
			e.t.Fatalf("page %d: cursor %v after %d items", n, p.NextCursor, len(p.Data))
		}
		cursor = *p.NextCursor
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	for _, id := range []string{"ETH", "DOGE", "FIL"} { // FIL is last: the final page ends early
		if _, err := e.d.Assets.SetActive(ctx, id, false, t0); err != nil {
			t.Fatal(err)
		}
	}
	active := without(rankOrder, "ETH", "DOGE", "FIL")
	tests := []struct {
		name   string
		query  string
		limit  int
		want   []string
		pages  []int
		total  int
		active int
	}{
		{"all one page", "?active_only=false", 250, rankOrder, []int{24}, 24, 21},
		{"all exact pages", "?active_only=false", 8, rankOrder, []int{8, 8, 8}, 24, 21},
		{"all uneven pages", "?active_only=false", 5, rankOrder, []int{5, 5, 5, 5, 4}, 24, 21},
		{"all pages of 1", "?active_only=false", 1, rankOrder, slices.Repeat([]int{1}, 24), 24, 21},
		{"active default", "?", 250, active, []int{21}, 24, 21},
		{"active exact pages", "?active_only=true", 7, active, []int{7, 7, 7}, 24, 21},
		{"active uneven pages", "?active_only=1", 4, active, []int{4, 4, 4, 4, 4, 1}, 24, 21},
		{"category", "?category=layer-1", 4, without(layer1, "ETH"), []int{4, 4}, 9, 8},
		{"category all", "?category=LAYER-1&active_only=false", 3, layer1, []int{3, 3, 3}, 9, 8},
		{"category trims", "?category=%20Layer-1%20&active_only=no", 9, layer1, []int{9}, 9, 8},
		{"unknown category", "?category=nope", 10, []string{}, []int{0}, 0, 0},
		{"inactive category", "?category=storage", 10, []string{}, []int{0}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			ids, pages, first := e.collect(tc.query, tc.limit)
			if ids == nil {
				ids = []string{}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("ids %v\nwant %v", ids, tc.want)
			}
			if !slices.Equal(pages, tc.pages) {
				t.Errorf("page sizes %v, want %v", pages, tc.pages)
			}
			if first.TotalCount != tc.total || first.ActiveCount != tc.active {
				t.Errorf("counts %d/%d, want %d/%d", first.TotalCount, first.ActiveCount, tc.total, tc.active)
			}
		})
	}
}

func TestListOrderUnrankedLast(t *testing.T) {
	e := newEnv(t, true)
	// Two unranked assets sort after every ranked one, by id; a new rank 3
	// sorts before USDT (rank 3) by id.
	for _, body := range []string{
		`{"asset_id":"zzz","name":"Zed","price_usd":1}`,
		`{"asset_id":"AAA","name":"Ay","price_usd":"2.5"}`,
		`{"asset_id":"MID","name":"Middle","price_usd":3,"market_cap_rank":3}`,
	} {
		if status, resp := e.do(admin, "POST", PathAdminAssets, body); status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", body, status, resp)
		}
	}
	ids, _, first := e.collect("?", 10)
	want := append(slices.Insert(slices.Clone(rankOrder), 2, "MID"), "AAA", "ZZZ")
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v\nwant %v", ids, want)
	}
	if first.TotalCount != 27 || first.ActiveCount != 27 {
		t.Fatalf("counts %d/%d", first.TotalCount, first.ActiveCount)
	}
	p := e.list("?limit=250")
	if got := string(p.Data[26]); got != `{"asset_id":"ZZZ","name":"Zed","description":null,"category":null,"price_usd":1,"is_active":true,"symbol":null,"image":null,"market_cap_rank":null,"price_change_percentage_24h":0,"market_cap":null,"total_volume_24h":null}` {
		t.Fatalf("unranked item: %s", got)
	}
}

func TestListEmptyCatalogue(t *testing.T) {
	e := newEnv(t, false)
	status, body := e.do(anon, "GET", PathAssets+"/", "") // trailing slash reaches the route
	if want := `{"data":[],"total_count":0,"active_count":0,"next_cursor":null}`; status != http.StatusOK || body != want {
		t.Fatalf("got %d %s\nwant 200 %s", status, body, want)
	}
}

func TestListInvalidQuery(t *testing.T) {
	e := newEnv(t, true)
	other := e.list("?category=layer-1&limit=2").NextCursor // a cursor of another query
	first := e.list("?limit=2").NextCursor
	tamper := []byte(*first)
	tamper[len(tamper)/2] ^= 1
	tests := []struct {
		name, query, want string
	}{
		{"limit 0", "?limit=0", `{"detail":[{"loc":["query","limit"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"}],"code":"invalid"}`},
		{"limit 251", "?limit=251", `{"detail":[{"loc":["query","limit"],"msg":"Input should be less than or equal to 250","type":"less_than_equal"}],"code":"invalid"}`},
		{"limit text", "?limit=ten", `{"detail":[{"loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}],"code":"invalid"}`},
		{"limit negative", "?limit=-5", `{"detail":[{"loc":["query","limit"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"}],"code":"invalid"}`},
		{"active_only", "?active_only=maybe", `{"detail":[{"loc":["query","active_only"],"msg":"Input should be a valid boolean, unable to interpret input","type":"bool_parsing"}],"code":"invalid"}`},
		{"two bad", "?limit=0&active_only=x", `{"detail":[{"loc":["query","active_only"],"msg":"Input should be a valid boolean, unable to interpret input","type":"bool_parsing"},{"loc":["query","limit"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"}],"code":"invalid"}`},
		{"garbage cursor", "?cursor=not-a-cursor", cursorErr},
		{"tampered cursor", "?cursor=" + url.QueryEscape(string(tamper)), cursorErr},
		{"cursor of another query", "?cursor=" + url.QueryEscape(*other), cursorErr},
		{"long category", "?category=" + string(slices.Repeat([]byte("a"), 51)), `{"detail":[{"loc":["query","category"],"msg":"String should have at most 50 characters","type":"string_too_long"}],"code":"invalid"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(anon, "GET", PathAssets+tc.query, "")
			if status != http.StatusUnprocessableEntity || body != tc.want {
				t.Fatalf("got %d %s\nwant 422 %s", status, body, tc.want)
			}
		})
	}
}

const cursorErr = `{"detail":[{"loc":["query","cursor"],"msg":"Invalid cursor: use the next_cursor of the previous page of the same query","type":"value_error"}],"code":"invalid"}`

func TestListDirect(t *testing.T) {
	// List clamps a limit given by a Go caller.
	e := newEnv(t, true)
	for _, tc := range []struct{ limit, want int }{{0, 1}, {-3, 1}, {1000, 24}} {
		resp, err := e.svc.List(context.Background(), ListQuery{Limit: tc.limit})
		if err != nil || len(resp.Data) != tc.want {
			t.Fatalf("limit %d: %d items, %v; want %d", tc.limit, len(resp.Data), err, tc.want)
		}
	}
	if len(catalog.Assets) != len(rankOrder) {
		t.Fatalf("catalogue has %d assets; the tests expect %d", len(catalog.Assets), len(rankOrder))
	}
}
