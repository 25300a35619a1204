package dynamodb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// injector is an HTTP proxy in front of DynamoDB Local that answers the
// next fail[operation] calls of an operation with the failure DynamoDB gives
// under contention, and forwards everything else. It records the calls.
type injector struct {
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	fail   map[string]int // operation -> failures still to inject
	reason string         // cancellation reason code for TransactWriteItems
	calls  map[string]int // operation -> calls seen
	tokens []string       // ClientRequestToken of every TransactWriteItems call
	// after[operation] runs when DynamoDB Local has answered a forwarded
	// call, before the answer goes back to the client.
	after map[string]func()
}

func newInjector(t *testing.T, target string) (*injector, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	in := &injector{proxy: httputil.NewSingleHostReverseProxy(u), fail: map[string]int{}, calls: map[string]int{},
		reason: codeTransactionConflict, after: map[string]func(){}}
	in.proxy.ModifyResponse = func(r *http.Response) error {
		in.mu.Lock()
		f := in.after[operation(r.Request)]
		in.mu.Unlock()
		if f != nil {
			f()
		}
		return nil
	}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return in, srv.URL
}

func (in *injector) set(op string, n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.fail[op] = n
	in.calls = map[string]int{}
	in.tokens = nil
}

// setAfter sets (or, with nil, clears) the hook run after DynamoDB Local
// has answered a call of op.
func (in *injector) setAfter(op string, f func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.after[op] = f
}

// operation returns the DynamoDB operation a request calls.
func operation(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
}

func (in *injector) count(op string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls[op]
}

func (in *injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	op := operation(r)
	var req struct {
		ClientRequestToken string
		TransactItems      []json.RawMessage
		RequestItems       json.RawMessage
	}
	_ = json.Unmarshal(body, &req)

	in.mu.Lock()
	in.calls[op]++
	if op == "TransactWriteItems" {
		in.tokens = append(in.tokens, req.ClientRequestToken)
	}
	inject := in.fail[op] > 0
	if inject {
		in.fail[op]--
	}
	reason := in.reason
	in.mu.Unlock()
	if !inject {
		in.proxy.ServeHTTP(w, r)
		return
	}
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch op {
	case "TransactWriteItems":
		reasons := make([]map[string]string, len(req.TransactItems))
		for i := range reasons {
			reasons[i] = map[string]string{"Code": "None"}
		}
		reasons[len(reasons)-1] = map[string]string{"Code": reason, "Message": "injected"}
		reply(http.StatusBadRequest, map[string]any{
			"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
			"Message":             "Transaction cancelled, please refer cancellation reasons for specific reasons",
			"CancellationReasons": reasons,
		})
	case "BatchGetItem":
		reply(http.StatusOK, map[string]any{"Responses": map[string]any{}, "UnprocessedKeys": req.RequestItems})
	default:
		reply(http.StatusBadRequest, map[string]any{
			"__type":  "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
			"message": "Transaction is ongoing for the item",
		})
	}
}

// openInjected opens a DB on DynamoDB Local behind an injector.
func openInjected(t *testing.T) (*DB, *injector) {
	t.Helper()
	local := openLocal(t, storetest.Schemas()) // creates (and drops) the tables
	in, url := newInjector(t, endpoint(t))
	db, err := Open(context.Background(), Config{
		Client: localClient(url), TablePrefix: strings.TrimSuffix(local.TableName(storetest.TableItems), storetest.TableItems),
		Schemas: storetest.Schemas(), Logger: quiet, MaxRetries: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return db, in
}

func TestTransactRetries(t *testing.T) {
	db, in := openInjected(t)
	ctx := context.Background()
	k := func(sk string) store.Key { return store.Key{Table: storetest.TableItems, PK: "RETRY", SK: sk} }
	tx := func(sk string) []store.Write {
		return []store.Write{
			{Put: &store.Put{Key: k(sk), Item: store.Item{"v": store.Int(1)}, Cond: store.ItemNotExists()}},
			{Update: &store.Update{Key: store.Key{Table: storetest.TableLedger, PK: "RETRY", SK: sk}, Actions: []store.Action{store.Add("n", store.Int(1))}}},
		}
	}
	for _, reason := range []string{codeTransactionConflict, codeThrottling} {
		t.Run(reason, func(t *testing.T) {
			in.mu.Lock()
			in.reason = reason
			in.mu.Unlock()
			// Two cancellations, then the transaction goes through, once.
			in.set("TransactWriteItems", 2)
			if err := db.Transact(ctx, tx(reason)); err != nil {
				t.Fatal(err)
			}
			if n := in.count("TransactWriteItems"); n != 3 {
				t.Fatalf("%d calls, want 3", n)
			}
			in.mu.Lock()
			tokens := in.tokens
			in.mu.Unlock()
			if tokens[0] == "" || tokens[1] != tokens[0] || tokens[2] != tokens[0] {
				t.Fatalf("tokens of one transaction differ: %q", tokens)
			}
			it, err := db.Get(ctx, store.Key{Table: storetest.TableLedger, PK: "RETRY", SK: reason})
			if err != nil || it.Int("n") != 1 {
				t.Fatalf("ledger item %v %v, want n=1", it, err)
			}
		})
	}
	t.Run("gives up with ErrTxConflict", func(t *testing.T) {
		in.set("TransactWriteItems", 100)
		err := db.Transact(ctx, tx("never"))
		var txe *store.TxCanceledError
		if !errors.As(err, &txe) || !errors.Is(err, store.ErrTxConflict) || errors.Is(err, store.ErrConditionFailed) || !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("error %v, want a TxCanceledError of conflicts", err)
		}
		if txe.Reasons[0] != nil || !errors.Is(txe.Reasons[1], store.ErrTxConflict) || txe.FailedIndex() != -1 {
			t.Fatalf("reasons %v", txe.Reasons)
		}
		if n := in.count("TransactWriteItems"); n != 3 {
			t.Fatalf("%d calls, want 1 + MaxRetries = 3", n)
		}
		if _, err := db.Get(ctx, k("never")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("canceled transaction applied: %v", err)
		}
	})
	t.Run("new token per transaction", func(t *testing.T) {
		in.set("TransactWriteItems", 0)
		for _, sk := range []string{"t1", "t2"} {
			if err := db.Transact(ctx, tx(sk)); err != nil {
				t.Fatal(err)
			}
		}
		in.mu.Lock()
		tokens := in.tokens
		in.mu.Unlock()
		if len(tokens) != 2 || tokens[0] == tokens[1] {
			t.Fatalf("tokens %q", tokens)
		}
	})
}

func TestWriteRetries(t *testing.T) {
	db, in := openInjected(t)
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "W", SK: "1"}
	ops := []struct {
		op   string
		call func() error
	}{
		{"PutItem", func() error { return db.Put(ctx, store.Put{Key: k, Item: store.Item{"v": store.Int(1)}}) }},
		{"UpdateItem", func() error {
			_, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("v", store.Int(1))}})
			return err
		}},
		{"DeleteItem", func() error { return db.Delete(ctx, store.Delete{Key: k, Cond: store.Eq("v", store.Int(2))}) }},
	}
	for _, o := range ops {
		in.set(o.op, 2)
		if err := o.call(); err != nil {
			t.Fatalf("%s: %v", o.op, err)
		}
		if n := in.count(o.op); n != 3 {
			t.Fatalf("%s: %d calls, want 3", o.op, n)
		}
	}
	if _, err := db.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after put, add and delete: %v", err)
	}
	in.set("PutItem", 100)
	err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"v": store.Int(1)}})
	if !errors.Is(err, store.ErrTxConflict) || !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("put that always conflicts: %v", err)
	}
	if n := in.count("PutItem"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

func TestBatchGetUnprocessed(t *testing.T) {
	db, in := openInjected(t)
	ctx := context.Background()
	var keys []store.Key
	for i := 0; i < 3; i++ {
		k := store.Key{Table: storetest.TableItems, PK: "U", SK: fmt.Sprint(i)}
		if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"i": store.Int(int64(i))}}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	in.set("BatchGetItem", 2)
	got, err := db.BatchGet(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range got {
		if it.Int("i") != int64(i) {
			t.Fatalf("item %d = %v", i, it)
		}
	}
	if n := in.count("BatchGetItem"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	in.set("BatchGetItem", 100)
	if _, err := db.BatchGet(ctx, keys); err == nil || !strings.Contains(err.Error(), "unprocessed") {
		t.Fatalf("batch get that never completes: %v", err)
	}
	// A context canceled while waiting to retry ends the wait.
	in.set("BatchGetItem", 100)
	cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := db.BatchGet(cctx, keys); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("batch get with an expiring context: %v", err)
	}
}

// TestStartedWriteReportsItsOutcome cancels the caller's context after
// DynamoDB has applied a write and before its answer reaches the client.
// Every kind of write reports what DynamoDB did (applied), not the
// cancellation: a caller that gives up never turns an applied write into an
// error. A write whose context is canceled before it is sent is not sent,
// and a write DynamoDB does not answer within WriteTimeout fails.
func TestStartedWriteReportsItsOutcome(t *testing.T) {
	db, in := openInjected(t)
	bg := context.Background()
	k := func(sk string) store.Key { return store.Key{Table: storetest.TableItems, PK: "STARTED", SK: sk} }
	if err := db.Put(bg, store.Put{Key: k("delete"), Item: store.Item{"v": store.Int(1)}}); err != nil {
		t.Fatal(err)
	}
	present := func(sk string) func() error {
		return func() error { _, err := db.Get(bg, k(sk)); return err }
	}
	cases := []struct {
		op     string
		write  func(context.Context) error
		effect func() error // nil when the write's effect is there
	}{
		{"PutItem", func(ctx context.Context) error {
			return db.Put(ctx, store.Put{Key: k("put"), Item: store.Item{"v": store.Int(1)}, Cond: store.ItemNotExists()})
		}, present("put")},
		{"UpdateItem", func(ctx context.Context) error {
			it, err := db.Update(ctx, store.Update{Key: k("update"), Actions: []store.Action{store.Add("n", store.Int(7))}})
			if err == nil && it.Int("n") != 7 {
				return fmt.Errorf("update returned %v, want n=7", it)
			}
			return err
		}, present("update")},
		{"DeleteItem", func(ctx context.Context) error {
			return db.Delete(ctx, store.Delete{Key: k("delete"), Cond: store.ItemExists()})
		}, func() error {
			if _, err := db.Get(bg, k("delete")); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("deleted item: %v, want not found", err)
			}
			return nil
		}},
		{"TransactWriteItems", func(ctx context.Context) error {
			return db.Transact(ctx, []store.Write{
				{Put: &store.Put{Key: k("tx"), Item: store.Item{"v": store.Int(1)}, Cond: store.ItemNotExists()}},
				{Update: &store.Update{Key: store.Key{Table: storetest.TableLedger, PK: "STARTED", SK: "tx"}, Actions: []store.Action{store.Add("n", store.Int(1))}}},
			})
		}, present("tx")},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			in.setAfter(tc.op, func() {
				cancel()
				time.Sleep(50 * time.Millisecond) // the client sees the cancellation before the answer
			})
			defer in.setAfter(tc.op, nil)
			if err := tc.write(ctx); err != nil {
				t.Fatalf("a write DynamoDB applied returned %v", err)
			}
			if ctx.Err() == nil {
				t.Fatal("the context was not canceled during the call: nothing was tested")
			}
			if err := tc.effect(); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("not sent when canceled before", func(t *testing.T) {
		in.set("PutItem", 0) // counts afresh
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := db.Put(ctx, store.Put{Key: k("never"), Item: store.Item{"v": store.Int(1)}}); !errors.Is(err, context.Canceled) {
			t.Fatalf("put under a canceled context: %v, want context.Canceled", err)
		}
		if n := in.count("PutItem"); n != 0 {
			t.Fatalf("%d PutItem calls sent under a canceled context", n)
		}
	})

	t.Run("WriteTimeout bounds the wait", func(t *testing.T) {
		wait := db.writeWait
		db.writeWait = 100 * time.Millisecond
		defer func() { db.writeWait = wait }()
		in.setAfter("PutItem", func() { time.Sleep(300 * time.Millisecond) })
		defer in.setAfter("PutItem", nil)
		if err := db.Put(bg, store.Put{Key: k("slow"), Item: store.Item{"v": store.Int(1)}}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("put answered after WriteTimeout: %v, want context.DeadlineExceeded", err)
		}
	})
}
