package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// Tests against DynamoDB Local of what the contract suite does not reach:
// DynamoDB-specific translations checked against the contract's own
// semantics (store.Cond.Eval, store.ApplyActions), migrations, client setup.

func itemsEqual(a, b store.Item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

// TestConditionsMatchEval checks that DynamoDB decides every condition as
// store.Cond.Eval does, including orders on booleans (which DynamoDB lacks)
// and comparisons across kinds.
func TestConditionsMatchEval(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	items := []store.Item{
		nil, // missing
		{"b": store.Bool(true), "n": store.MustN("1.50"), "s": store.S("m")},
		{"b": store.Bool(false), "n": store.MustN("-2"), "s": store.S("")},
		{"b": store.S("true"), "n": store.S("1.5"), "s": store.Int(1)}, // other kinds
	}
	var conds []*store.Cond
	for _, op := range []func(string, store.Value) *store.Cond{store.Eq, store.Ne, store.Lt, store.Le, store.Gt, store.Ge} {
		for _, v := range []store.Value{store.Bool(false), store.Bool(true), store.MustN("1.5"), store.MustN("-2.0"), store.S("m"), store.S("")} {
			for _, a := range []string{"b", "n", "s", "missing"} {
				conds = append(conds, op(a, v))
			}
		}
	}
	conds = append(conds, store.Not(store.Lt("b", store.Bool(true))), store.Or(store.Gt("b", store.Bool(true)), store.ItemNotExists()))
	for i, base := range items {
		k := store.Key{Table: storetest.TableItems, PK: "EVAL", SK: fmt.Sprint(i)}
		var stored store.Item
		if base != nil {
			if err := db.Put(ctx, store.Put{Key: k, Item: base}); err != nil {
				t.Fatal(err)
			}
			stored = base.Clone()
			stored[store.AttrPK], stored[store.AttrSK] = store.S(k.PK), store.S(k.SK)
		}
		for _, c := range conds {
			err := db.Transact(ctx, []store.Write{{Check: &store.Check{Key: k, Cond: c}},
				{Put: &store.Put{Key: store.Key{Table: storetest.TableLedger, PK: "EVAL", SK: "marker"}, Item: store.Item{}}}})
			want := c.Eval(stored)
			if want != (err == nil) || (err != nil && !errors.Is(err, store.ErrConditionFailed)) {
				t.Fatalf("item %v, condition %+v (%s %v): error %v, Eval says %v", base, *c, c.Attr, c.Value, err, want)
			}
		}
	}
}

// TestUpdateMatchesApplyActions checks folded actions (several on one
// attribute) against store.ApplyActions.
func TestUpdateMatchesApplyActions(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	start := store.Item{"n": store.MustN("10.25"), "s": store.S("x")}
	cases := [][]store.Action{
		{store.Set("n", store.MustN("1.10")), store.Add("n", store.MustN("0.9"))},
		{store.Add("n", store.MustN("0.1")), store.Add("n", store.MustN("0.2")), store.Add("m", store.Int(3)), store.Add("m", store.Int(-1))},
		{store.SetIfAbsent("n", store.Int(7)), store.Add("n", store.Int(1)), store.SetIfAbsent("c", store.Int(7)), store.Add("c", store.Int(1))},
		{store.Add("n", store.Int(2)), store.SetIfAbsent("n", store.Int(9)), store.Add("z", store.Int(2)), store.SetIfAbsent("z", store.Int(9))},
		{store.Remove("n"), store.Add("n", store.Int(3)), store.Remove("s"), store.SetIfAbsent("s", store.S("v"))},
		{store.Set("s", store.S("a")), store.Remove("s"), store.Remove("never")},
		{},
	}
	for i, actions := range cases {
		for _, exists := range []bool{true, false} {
			k := store.Key{Table: storetest.TableLedger, PK: "APPLY", SK: fmt.Sprintf("%d-%v", i, exists)}
			var old store.Item
			if exists {
				if err := db.Put(ctx, store.Put{Key: k, Item: start}); err != nil {
					t.Fatal(err)
				}
				old = start
			}
			want, err := store.ApplyActions(k, old, actions)
			if err != nil {
				t.Fatal(err)
			}
			got, err := db.Update(ctx, store.Update{Key: k, Actions: actions})
			if err != nil {
				t.Fatalf("case %d exists=%v: %v", i, exists, err)
			}
			if !itemsEqual(got, want) {
				t.Fatalf("case %d exists=%v: got %v, want %v", i, exists, got, want)
			}
		}
	}
}

func TestIndexAttributesMustBeStrings(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "IX", SK: "1"}
	long := store.S(strings.Repeat("x", store.MaxKeyLen+1))
	calls := map[string]func() error{
		"put number owner": func() error {
			return db.Put(ctx, store.Put{Key: k, Item: store.Item{"owner": store.Int(1), "created": store.S("c")}})
		},
		"put empty status": func() error { return db.Put(ctx, store.Put{Key: k, Item: store.Item{"status": store.S("")}}) },
		"put long created": func() error { return db.Put(ctx, store.Put{Key: k, Item: store.Item{"created": long}}) },
		"update set bool": func() error {
			_, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("owner", store.Bool(true))}})
			return err
		},
		"update add": func() error {
			_, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("created", store.Int(1))}})
			return err
		},
		"transact set if absent": func() error {
			return db.Transact(ctx, []store.Write{{Update: &store.Update{Key: k, Actions: []store.Action{store.SetIfAbsent("status", store.S(""))}}}})
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrInvalidRequest) || !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if _, err := db.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("item written by an invalid request: %v", err)
	}
	// Index attributes are free on a table without indexes.
	if err := db.Put(ctx, store.Put{Key: store.Key{Table: storetest.TableLedger, PK: "IX", SK: "1"}, Item: store.Item{"owner": store.Int(1)}}); err != nil {
		t.Fatal(err)
	}
}

func TestDynamoDBValidationIsInvalid(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableLedger, PK: "V", SK: "1"}
	if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"s": store.S("x"), "n": store.MustN("99999999999999999999999999999999999999")}}); err != nil {
		t.Fatal(err)
	}
	for name, actions := range map[string][]store.Action{
		"add to a string": {store.Add("s", store.Int(1))},
		"past 38 digits":  {store.Add("n", store.MustN("0.1"))},
	} {
		err := db.Transact(ctx, []store.Write{
			{Update: &store.Update{Key: k, Actions: actions}},
			{Put: &store.Put{Key: store.Key{Table: storetest.TableLedger, PK: "V", SK: "2"}, Item: store.Item{}}},
		})
		var tx *store.TxCanceledError
		if !errors.Is(err, store.ErrInvalidRequest) || !apperr.Is(err, apperr.Invalid) || errors.As(err, &tx) {
			t.Fatalf("transaction %s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if _, err := db.Get(ctx, store.Key{Table: storetest.TableLedger, PK: "V", SK: "2"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("invalid transaction applied: %v", err)
	}
}

func TestQueryEmptySortValues(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	for _, sk := range []string{"a", "b"} {
		if err := db.Put(ctx, store.Put{Key: store.Key{Table: storetest.TableLedger, PK: "E", SK: sk}, Item: store.Item{}}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		sk   store.SortCond
		want []string
	}{
		{store.SortCond{Op: store.SortBeginsWith}, []string{"a", "b"}},
		{store.SortCond{Op: store.SortGe}, []string{"a", "b"}},
		{store.SortCond{Op: store.SortGt}, []string{"a", "b"}},
		{store.SortCond{Op: store.SortEq}, nil},
		{store.SortCond{Op: store.SortLt}, nil},
		{store.SortCond{Op: store.SortLe}, nil},
		{store.SortCond{Op: store.SortBetween, Value2: "a"}, []string{"a"}},
		{store.SortCond{Op: store.SortBetween}, nil},
	}
	for _, tc := range cases {
		p, err := db.Query(ctx, store.Query{Table: storetest.TableLedger, PK: "E", SK: tc.sk})
		if err != nil {
			t.Fatalf("%+v: %v", tc.sk, err)
		}
		var got []string
		for _, it := range p.Items {
			got = append(got, it.Str(store.AttrSK))
		}
		if !slices.Equal(got, tc.want) || p.Cursor != "" {
			t.Fatalf("%+v: %q cursor %q, want %q", tc.sk, got, p.Cursor, tc.want)
		}
	}
}

func TestBatchGetRepeatedKeys(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "B", SK: "1"}
	if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"v": store.Int(1)}}); err != nil {
		t.Fatal(err)
	}
	missing := store.Key{Table: storetest.TableItems, PK: "B", SK: "2"}
	got, err := db.BatchGet(ctx, []store.Key{k, missing, k, missing})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Int("v") != 1 || got[2].Int("v") != 1 || got[1] != nil || got[3] != nil {
		t.Fatalf("got %v", got)
	}
	got[0]["v"] = store.Int(9)
	if got[2].Int("v") != 1 {
		t.Fatal("repeated keys share one item")
	}
	if got, err := db.BatchGet(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %v %v", got, err)
	}
}

func TestMigrate(t *testing.T) {
	ep := endpoint(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("%smig%d_", runPrefix, opened.Add(1))
	open := func(schemas []store.TableSchema, ttl string) *DB {
		db, err := Open(ctx, Config{Client: localClient(ep), TablePrefix: prefix, Schemas: schemas, TTLAttribute: ttl, Logger: quiet, PollInterval: 1})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	bare := open([]store.TableSchema{{Name: "orders"}, {Name: "users"}}, "")
	t.Cleanup(func() { _ = bare.DeleteTables(context.Background()) })
	for i := 0; i < 2; i++ { // idempotent
		if err := bare.Migrate(ctx); err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	if got := bare.TableName("orders"); got != prefix+"orders" {
		t.Fatalf("table name %q", got)
	}
	if bare.TableName("nope") != "" || bare.Client() == nil {
		t.Fatal("TableName of an unknown table or nil client")
	}
	ttl, err := bare.Client().DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(prefix + "users")})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != store.DefaultTTLAttribute {
		t.Fatalf("time to live %+v", ttl.TimeToLiveDescription)
	}
	k := store.Key{Table: "orders", PK: "O", SK: "1"}
	if err := bare.Put(ctx, store.Put{Key: k, Item: store.Item{"owner": store.S("al"), "at": store.S("2024")}}); err != nil {
		t.Fatal(err)
	}

	// The same tables declared with an index: Migrate adds it, the
	// existing item is in it, and another TTL attribute only warns.
	indexed := open([]store.TableSchema{{Name: "orders", Indexes: []store.IndexSchema{{Name: "by_owner", PK: "owner", SK: "at"}}}, {Name: "users"}}, "ttl_other")
	if err := indexed.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := indexed.Query(ctx, store.Query{Table: "orders", Index: "by_owner", PK: "al"})
	if err != nil || len(p.Items) != 1 || p.Items[0].Str(store.AttrSK) != "1" {
		t.Fatalf("index after migrate: %v %v", p, err)
	}
	if err := indexed.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}

	// An index declared with other keys than the existing one is an error.
	clash := open([]store.TableSchema{{Name: "orders", Indexes: []store.IndexSchema{{Name: "by_owner", PK: "owner", SK: "other"}}}}, "-")
	if err := clash.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "other key attributes") {
		t.Fatalf("migrate with a changed index: %v", err)
	}
	if err := bare.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bare.DeleteTables(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bare.DeleteTables(ctx); err != nil {
		t.Fatalf("deleting missing tables: %v", err)
	}
	if err := bare.Ping(ctx); err == nil {
		t.Fatal("ping without tables succeeded")
	}
	none := open(nil, "")
	if err := none.Ping(ctx); err != nil {
		t.Fatalf("ping with no tables declared: %v", err)
	}
}

func TestOpenRejectsBadSchemas(t *testing.T) {
	ctx := context.Background()
	c := localClient("http://127.0.0.1:1")
	for name, schemas := range map[string][]store.TableSchema{
		"short name":       {{Name: "ab"}},
		"bad character":    {{Name: "orders/x"}},
		"table twice":      {{Name: "orders"}, {Name: "orders"}},
		"bad index name":   {{Name: "orders", Indexes: []store.IndexSchema{{Name: "x", PK: "a", SK: "b"}}}},
		"index without pk": {{Name: "orders", Indexes: []store.IndexSchema{{Name: "by_x", SK: "b"}}}},
		"index twice":      {{Name: "orders", Indexes: []store.IndexSchema{{Name: "by_x", PK: "a", SK: "b"}, {Name: "by_x", PK: "c", SK: "d"}}}},
	} {
		if _, err := Open(ctx, Config{Client: c, Schemas: schemas}); !errors.Is(err, store.ErrInvalidRequest) {
			t.Fatalf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	db, err := Open(ctx, Config{Client: c, TablePrefix: "p", Schemas: []store.TableSchema{{Name: "ab"}}})
	if err != nil || db.TableName("ab") != "pab" {
		t.Fatalf("prefix makes the name valid: %v", err)
	}
}

func TestClosed(t *testing.T) {
	db := openLocal(t, storetest.Schemas())
	ctx := context.Background()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	k := store.Key{Table: storetest.TableItems, PK: "C", SK: "1"}
	calls := map[string]func() error{
		"get":      func() error { _, err := db.Get(ctx, k); return err },
		"batch":    func() error { _, err := db.BatchGet(ctx, []store.Key{k}); return err },
		"put":      func() error { return db.Put(ctx, store.Put{Key: k, Item: store.Item{}}) },
		"update":   func() error { _, err := db.Update(ctx, store.Update{Key: k}); return err },
		"delete":   func() error { return db.Delete(ctx, store.Delete{Key: k}) },
		"transact": func() error { return db.Transact(ctx, []store.Write{{Delete: &store.Delete{Key: k}}}) },
		"query":    func() error { _, err := db.Query(ctx, store.Query{Table: k.Table, PK: "C"}); return err },
		"scan":     func() error { _, err := db.Scan(ctx, store.Scan{Table: k.Table}); return err },
		"ping":     func() error { return db.Ping(ctx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, errClosed) {
			t.Fatalf("%s after close: %v", name, err)
		}
	}
}

func TestNewClient(t *testing.T) {
	ep := endpoint(t)
	ctx := context.Background()
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	schemas := []store.TableSchema{{Name: "clients"}}
	prefix := fmt.Sprintf("%scl%d_", runPrefix, opened.Add(1))

	// Client built by Open from the default chain (environment) and Endpoint.
	db, err := Open(ctx, Config{ClientConfig: ClientConfig{Region: "us-east-1", Endpoint: ep}, TablePrefix: prefix, Schemas: schemas, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.DeleteTables(context.Background()) })
	if got := db.Client().Options().Region; got != "us-east-1" {
		t.Fatalf("region %q", got)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// The endpoint from AWS_ENDPOINT_URL and the region from AWS_REGION.
	t.Setenv("AWS_ENDPOINT_URL", ep)
	c, err := NewClient(ctx, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Options().Region; got != "eu-west-1" {
		t.Fatalf("region %q", got)
	}
	if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}

	// With RoleARN the credentials come from STS AssumeRole (here the
	// endpoint is DynamoDB Local, which has no STS: the call fails there).
	c, err = NewClient(ctx, ClientConfig{RoleARN: "arn:aws:iam::123456789012:role/app", SessionName: "tests", ExternalID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	if err == nil || !strings.Contains(err.Error(), "AssumeRole") {
		t.Fatalf("assume role was not attempted: %v", err)
	}
}
