package trading_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/dynamodb"
	"github.com/orderprocessor/orderprocessor/trading"
)

// countingTransport counts DynamoDB API calls by operation (X-Amz-Target).
type countingTransport struct {
	mu    sync.Mutex
	calls map[string]int
	next  http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:]
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *countingTransport) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

// TestMarketOrderCallCount pins the cost of a market order on DynamoDB: one
// read round trip (the asset, the holding of a sale, the idempotency record)
// and exactly one TransactWriteItems.
func TestMarketOrderCallCount(t *testing.T) {
	ep := os.Getenv("DYNAMODB_ENDPOINT")
	if ep == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DynamoDB Local required in CI: DYNAMODB_ENDPOINT is not set")
		}
		t.Skip("DYNAMODB_ENDPOINT not set (scripts/dynamodb-local start)")
	}
	counter := &countingTransport{calls: map[string]int{}, next: http.DefaultTransport}
	db, tables := dynamoThrough(t, ep, "cost", counter)
	ctx := context.Background()
	d := trading.NewDAOs(db, tables)
	s := trading.New(d, trading.Config{}, trading.Options{})
	now := entity.At(time.Now())
	if err := d.Assets.Create(ctx, &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec("100"), IsActive: true,
		LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Deposit(ctx, "alice", entity.DepositRequest{Amount: decp("1000")}, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"BatchGetItem": 1, "TransactWriteItems": 1}
	for i, req := range []entity.OrderCreate{
		{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")},
		{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("1")},
	} {
		idem := &trading.Idem{Key: tables.IdemKey("alice", "order", fmt.Sprint("k", i)), ReqHash: "h",
			Render: func(any) (int, []byte, error) { return 201, []byte("{}"), nil }}
		counter.take()
		if _, _, err := s.PlaceOrder(ctx, "alice", req, "", idem); err != nil {
			t.Fatal(err)
		}
		if got := counter.take(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: DynamoDB calls %v, want %v", req.OrderType, got, want)
		}
	}
	var _ store.Store = db
}

// dynamoThrough opens fresh tables (their names prefixed with prefix and a
// number) on DynamoDB Local at ep, whose every HTTP call goes through rt,
// and deletes them when the test ends.
func dynamoThrough(t *testing.T, ep, prefix string, rt http.RoundTripper) (*dynamodb.DB, dao.Tables) {
	t.Helper()
	client := awsddb.New(awsddb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  &http.Client{Transport: rt}})
	tables := dao.DefaultTables.WithPrefix(fmt.Sprintf("%s%d_", prefix, time.Now().UnixNano()%1e9))
	ctx := context.Background()
	db, err := dynamodb.Open(ctx, dynamodb.Config{Client: client, Schemas: tables.Schemas(),
		Logger: slog.New(slog.DiscardHandler), PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.DeleteTables(ctx) })
	return db, tables
}
