// Package testenv opens the store engine a test suite runs on. Suites that
// must pass on every engine (trading lifecycle, end-to-end, verify) open
// their store with Store, and the test command runs them once per engine:
//
//	go test ./...                                   # embedded (the default)
//	STORE_ENGINE=dynamodb go test ./trading ./e2e   # DynamoDB Local at $DYNAMODB_ENDPOINT
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/dynamodb"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// Engine returns the engine under test: "embedded" or "dynamodb".
func Engine() string {
	if e := os.Getenv("STORE_ENGINE"); e != "" {
		return e
	}
	return "embedded"
}

var (
	runPrefix = fmt.Sprintf("te%d_", time.Now().UnixNano()%1e12)
	opened    atomic.Int64
)

// Store opens a fresh, empty store with the platform's tables on the engine
// under test, closed (and, on DynamoDB, deleted) when the test ends. Tables
// is the table names it was opened with (prefixed on DynamoDB).
func Store(t testing.TB) (store.Store, dao.Tables) {
	t.Helper()
	db, tables, cleanup, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return db, tables
}

// Open is Store for stores that outlive one test (a suite's shared server):
// dir is the embedded engine's directory; cleanup closes (and deletes) it.
func Open(dir string) (db store.Store, tables dao.Tables, cleanup func(), err error) {
	switch Engine() {
	case "embedded":
		e, err := embedded.Open(dir, dao.DefaultTables.Schemas(), embedded.Options{})
		if err != nil {
			return nil, dao.Tables{}, nil, err
		}
		return e, dao.DefaultTables, func() { _ = e.Close() }, nil
	case "dynamodb":
		ep := os.Getenv("DYNAMODB_ENDPOINT")
		if ep == "" {
			return nil, dao.Tables{}, nil, fmt.Errorf("STORE_ENGINE=dynamodb needs DYNAMODB_ENDPOINT (scripts/dynamodb-local start)")
		}
		return openDynamoDB(ep)
	}
	return nil, dao.Tables{}, nil, fmt.Errorf("unknown STORE_ENGINE %q (embedded or dynamodb)", Engine())
}

// DynamoDB opens a fresh store with the platform's tables on DynamoDB Local
// (env DYNAMODB_ENDPOINT), whatever the engine under test; it is closed and
// its tables deleted when the test ends. Without DYNAMODB_ENDPOINT the test
// fails when CI is set and is skipped otherwise.
func DynamoDB(t testing.TB) (store.Store, dao.Tables) {
	t.Helper()
	ep := os.Getenv("DYNAMODB_ENDPOINT")
	if ep == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DynamoDB Local required in CI: DYNAMODB_ENDPOINT is not set")
		}
		t.Skip("DYNAMODB_ENDPOINT not set (eval \"$(scripts/dynamodb-local start)\")")
	}
	db, tables, cleanup, err := openDynamoDB(ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return db, tables
}

// openDynamoDB opens a store with fresh tables on the DynamoDB of ep. The
// tables leave time to live off: DynamoDB Local deletes expired items by
// the real clock, and the tests' injected clocks (2026-11-25) would have
// it delete what a test just wrote (a daily total, a volume shard) while
// the embedded engine, which expires by the time it is given, keeps it.
func openDynamoDB(ep string) (store.Store, dao.Tables, func(), error) {
	client := awsddb.New(awsddb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: dynamodb.HTTPClient()})
	tables := dao.DefaultTables.WithPrefix(fmt.Sprintf("%s%d_", runPrefix, opened.Add(1)))
	d, err := dynamodb.Open(context.Background(), dynamodb.Config{Client: client, Schemas: tables.Schemas(), TTLAttribute: "-",
		Logger: slog.New(slog.DiscardHandler), PollInterval: 10 * time.Millisecond})
	if err != nil {
		return nil, dao.Tables{}, nil, err
	}
	if err := d.Migrate(context.Background()); err != nil {
		return nil, dao.Tables{}, nil, err
	}
	return d, tables, func() {
		_ = d.DeleteTables(context.Background())
		_ = d.Close()
	}, nil
}
