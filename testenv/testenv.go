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
	switch Engine() {
	case "embedded":
		db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db, dao.DefaultTables
	case "dynamodb":
		ep := os.Getenv("DYNAMODB_ENDPOINT")
		if ep == "" {
			t.Fatal("STORE_ENGINE=dynamodb needs DYNAMODB_ENDPOINT (scripts/dynamodb-local start)")
		}
		client := awsddb.New(awsddb.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: dynamodb.HTTPClient()})
		tables := dao.DefaultTables.WithPrefix(fmt.Sprintf("%s%d_", runPrefix, opened.Add(1)))
		db, err := dynamodb.Open(context.Background(), dynamodb.Config{Client: client, Schemas: tables.Schemas(),
			Logger: slog.New(slog.DiscardHandler), PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = db.DeleteTables(context.Background())
			_ = db.Close()
		})
		return db, tables
	}
	t.Fatalf("unknown STORE_ENGINE %q (embedded or dynamodb)", Engine())
	return nil, dao.Tables{}
}
