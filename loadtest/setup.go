package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// password is every load-test user's password (it satisfies the password rules of docs/api.md).
const password = "Loadtest!Pass1"

// asset is one traded asset with its pre-encoded order bodies.
type asset struct {
	id string
	// costCents is what the generator reserves from a user's cash for one
	// buy request: quantity x price plus 2% (a moving price), rounded up to
	// a cent, times the orders of a batch.
	costCents int64
	bodies    [numOps][]byte // OpBuy, OpSell, OpLimit
}

// account is one registered, funded, logged-in user. cash and held are the
// generator's own conservative estimates, so that buys do not run out of
// cash and sells only sell what was bought.
type account struct {
	name string
	auth string // "Bearer <token>"
	// cashCents is the cash not reserved by buys: a buy takes its asset's
	// costCents before it is sent, a failed buy or a completed sell gives
	// it back.
	cashCents atomic.Int64
	// held counts, per asset, the completed buys not yet being sold.
	held []atomic.Int64
}

// reserveBuy takes a's cash for one buy of as; false when there is not enough.
func (a *account) reserveBuy(as *asset) bool {
	if a.cashCents.Add(-as.costCents) < 0 {
		a.cashCents.Add(as.costCents)
		return false
	}
	return true
}

// reserveSell takes one held lot of asset i; false when there is none.
func (a *account) reserveSell(i int) bool {
	if a.held[i].Add(-1) < 0 {
		a.held[i].Add(1)
		return false
	}
	return true
}

// client is the HTTP side of the generator: the base URL and one keep-alive
// client shared by every worker.
type client struct {
	base string
	http *http.Client
}

// call sends a JSON request during setup and decodes a JSON answer into out
// (when not nil); any status other than want is an error.
func (c *client) call(ctx context.Context, method, path, auth, idemKey string, body any, want int, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d (want %d): %s", method, path, resp.StatusCode, want, snippet(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// loadAssets reads each asset's price and builds its order bodies.
// With batch > 1, a buy or sell is a POST /api/v1/orders/batch of batch
// identical orders, and costCents covers all of them.
func (c *client) loadAssets(ctx context.Context, ids []string, qty decimal.Decimal, batch int) ([]*asset, error) {
	out := make([]*asset, 0, len(ids))
	margin := decimal.MustParse("1.02")
	for _, id := range ids {
		var detail struct {
			Data struct {
				AssetID  string      `json:"asset_id"`
				PriceUSD json.Number `json:"price_usd"`
				IsActive bool        `json:"is_active"`
			} `json:"data"`
		}
		if _, err := c.call(ctx, http.MethodGet, "/api/v1/inventory/assets/"+id, "", "", nil, http.StatusOK, &detail); err != nil {
			return nil, fmt.Errorf("asset %s: %w", id, err)
		}
		if !detail.Data.IsActive {
			return nil, fmt.Errorf("asset %s is not active", id)
		}
		price, err := decimal.Parse(detail.Data.PriceUSD.String())
		if err != nil || !price.IsPositive() {
			return nil, fmt.Errorf("asset %s: price %q is not a positive decimal", id, detail.Data.PriceUSD)
		}
		cents, ok := qty.Mul(price).Mul(margin).Mul(decimal.FromInt(100)).Round(0, decimal.Up).Int64()
		if !ok {
			return nil, fmt.Errorf("asset %s: order value out of range", id)
		}
		as := &asset{id: detail.Data.AssetID, costCents: max(cents, 1) * int64(max(batch, 1))}
		q := qty.String()
		as.bodies[OpBuy] = batchBody(orderBody("market_buy", as.id, q, ""), batch)
		as.bodies[OpSell] = batchBody(orderBody("market_sell", as.id, q, ""), batch)
		// Far below the market: it would rest on the book, never execute.
		limit, err := price.Quo(decimal.FromInt(2), 2, decimal.Down)
		if err != nil {
			return nil, fmt.Errorf("asset %s: limit price: %w", id, err)
		}
		as.bodies[OpLimit] = orderBody("limit_buy", as.id, q, limit.String())
		out = append(out, as)
	}
	return out, nil
}

// batchBody returns order itself when batch <= 1, else the body of a batch
// of batch copies of it.
func batchBody(order []byte, batch int) []byte {
	if batch <= 1 {
		return order
	}
	b := append([]byte(nil), `{"orders":[`...)
	for i := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, order...)
	}
	return append(b, "]}"...)
}

func orderBody(typ, assetID, qty, limit string) []byte {
	m := map[string]string{"order_type": typ, "asset_id": assetID, "quantity": qty}
	if limit != "" {
		m["limit_price"] = limit
	}
	b, _ := json.Marshal(m) // strings only: cannot fail
	return b
}

// setupAccounts registers, logs in and funds n users named <prefix>_<i>,
// a few at a time (registration and login hash passwords: slow on purpose).
func (c *client) setupAccounts(ctx context.Context, prefix string, n, parallel int, deposit decimal.Decimal, assets int) ([]*account, error) {
	depositCents, ok := deposit.Mul(decimal.FromInt(100)).Round(0, decimal.Down).Int64()
	if !ok {
		return nil, fmt.Errorf("deposit %s out of range", deposit)
	}
	accounts := make([]*account, n)
	errs := make([]error, n)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				accounts[i], errs[i] = c.setupAccount(ctx, fmt.Sprintf("%s_%d", prefix, i), deposit, depositCents, assets)
				if errs[i] != nil {
					next.Store(int64(n)) // stop the others early
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("set up users: %w", err)
	}
	return accounts, nil
}

func (c *client) setupAccount(ctx context.Context, name string, deposit decimal.Decimal, depositCents int64, assets int) (*account, error) {
	reg := map[string]string{"username": name, "email": name + "@loadtest.example.com", "password": password,
		"first_name": "Load", "last_name": "Test"}
	if _, err := c.call(ctx, http.MethodPost, "/api/v1/auth/register", "", "", reg, http.StatusCreated, nil); err != nil {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	creds := map[string]string{"username": name, "password": password}
	if _, err := c.call(ctx, http.MethodPost, "/api/v1/auth/login", "", "", creds, http.StatusOK, &login); err != nil {
		return nil, fmt.Errorf("log in %s: %w", name, err)
	}
	if login.AccessToken == "" {
		return nil, fmt.Errorf("log in %s: no access_token in the answer", name)
	}
	a := &account{name: name, auth: "Bearer " + login.AccessToken, held: make([]atomic.Int64, assets)}
	body := map[string]string{"amount": deposit.String(), "description": "load test"}
	if _, err := c.call(ctx, http.MethodPost, "/api/v1/balance/deposit", a.auth, name+"-deposit", body, http.StatusCreated, nil); err != nil {
		return nil, fmt.Errorf("deposit for %s: %w", name, err)
	}
	a.cashCents.Store(depositCents)
	return a, nil
}
