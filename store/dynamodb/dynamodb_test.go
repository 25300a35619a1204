package dynamodb

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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// endpoint returns DynamoDB Local's endpoint (env DYNAMODB_ENDPOINT). Without
// it the test is skipped, or fails in CI (env CI set).
func endpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("DYNAMODB_ENDPOINT")
	if ep == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DynamoDB Local required in CI: DYNAMODB_ENDPOINT is not set (scripts/dynamodb-local start)")
		}
		t.Skip("DYNAMODB_ENDPOINT not set; run: eval \"$(scripts/dynamodb-local start)\"")
	}
	return ep
}

// localClient returns a client of DynamoDB Local with dummy credentials.
func localClient(ep string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ep),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:   HTTPClient(),
	})
}

// runPrefix makes this run's table names unique on a shared DynamoDB Local.
var (
	runPrefix = fmt.Sprintf("t%d_", time.Now().UnixNano()%1e12)
	opened    atomic.Int64
)

var quiet = slog.New(slog.DiscardHandler)

// openLocal opens a DB with fresh tables on DynamoDB Local; the tables are
// deleted when the test ends.
func openLocal(t *testing.T, schemas []store.TableSchema) *DB {
	t.Helper()
	ep := endpoint(t)
	prefix := fmt.Sprintf("%s%d_", runPrefix, opened.Add(1))
	db, err := Open(context.Background(), Config{
		Client: localClient(ep), TablePrefix: prefix, Schemas: schemas,
		Logger: quiet, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.DeleteTables(context.Background()); err != nil {
			t.Errorf("delete tables: %v", err)
		}
		_ = db.Close()
	})
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func TestContract(t *testing.T) {
	endpoint(t)
	storetest.Run(t, func(t *testing.T, schemas []store.TableSchema) store.Store {
		return openLocal(t, schemas)
	})
}
