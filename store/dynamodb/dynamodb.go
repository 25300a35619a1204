// Package dynamodb is the store engine on Amazon DynamoDB: store.Store on
// aws-sdk-go-v2, one DynamoDB table per store table (named TablePrefix +
// schema name) with string keys PK and SK, and one GSI per declared index.
//
// Mapping of the contract:
//   - Get is a strongly consistent GetItem; BatchGet is BatchGetItem with
//     ConsistentRead, retrying UnprocessedKeys with jittered backoff.
//   - Put, Update and Delete carry their store.Cond as a ConditionExpression
//     (the item-level conditions are attribute_exists/attribute_not_exists of
//     PK); a failed condition is store.ErrConditionFailed. Update folds its
//     actions into one UpdateExpression (see buildUpdate) and returns ALL_NEW.
//   - Transact is TransactWriteItems (store.Check is a ConditionCheck) with
//     one ClientRequestToken per Transact call, so the SDK's and this
//     package's retries of the same transaction are idempotent. TransactionConflict and throttling
//     cancellations are retried with jittered backoff (a failed condition
//     never is); the CancellationReasons become store.TxCanceledError.Reasons.
//   - Query and Scan read Limit+1 items so that a page is followed by a cursor
//     only when more items exist; cursors (DB.Cursors) carry the last key and
//     a hash of the query they were made for, and are rejected with
//     page.ErrInvalidCursor by any other query.
//   - Numbers travel as N with their exact decimal text (never float64);
//     DynamoDB returns them normalised ("1.50" comes back as "1.5"), which
//     store.Value.Equal treats as the same number.
//
// Every malformed request the contract defines (bad keys, unknown tables,
// too many items, an item twice in a transaction, an invalid item or
// condition) is rejected with store.ErrInvalidRequest before any call to AWS.
// One rule is DynamoDB's own (the embedded engine merely leaves such items
// out of the index): an index key attribute (IndexSchema.PK/SK), when
// present, must be a non-empty string of at most store.MaxKeyLen bytes. A
// ValidationException from DynamoDB (e.g. arithmetic past 38 digits, an Add
// to a string) is store.ErrInvalidRequest too.
//
// Consistency: Get, BatchGet, table queries and Scan read strongly
// consistently, but a query on an index reads a GSI, which DynamoDB updates
// asynchronously: a write may take a moment (usually well under a second)
// to show there. DynamoDB Local, and the embedded engine, show it at once.
//
// Tables are created by (*DB).Migrate, not by Open.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// ClientConfig says how NewClient builds a DynamoDB client. The zero value
// uses the default AWS configuration (environment, shared config files, web
// identity, instance roles).
type ClientConfig struct {
	// Region overrides the configured region (AWS_REGION).
	Region string
	// Endpoint overrides the service endpoint, e.g. http://127.0.0.1:8000
	// for DynamoDB Local. When empty, AWS_ENDPOINT_URL(_DYNAMODB) applies.
	Endpoint string
	// RoleARN, when set, makes the client assume this role through STS with
	// the default credentials (refreshed before they expire).
	RoleARN string
	// SessionName names the assumed-role session ("" : "orderprocessor").
	SessionName string
	// ExternalID is passed to AssumeRole when set.
	ExternalID string
}

// NewClient returns a DynamoDB client built from the default AWS credential
// chain and cc.
func NewClient(ctx context.Context, cc ClientConfig) (*dynamodb.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(HTTPClient())}
	if cc.Region != "" {
		opts = append(opts, config.WithRegion(cc.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: load AWS config: %w", err)
	}
	if cc.RoleARN != "" {
		session := cc.SessionName
		if session == "" {
			session = "orderprocessor"
		}
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), cc.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
			if cc.ExternalID != "" {
				o.ExternalID = aws.String(cc.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if cc.Endpoint != "" {
			o.BaseEndpoint = aws.String(cc.Endpoint)
		}
	}), nil
}

// HTTPClient returns the SDK's HTTP client with room for many idle
// connections to the one DynamoDB endpoint (the SDK keeps 10 per host, which
// makes a busy server open a new connection for most requests).
func HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 512
		tr.MaxIdleConnsPerHost = 256
	})
}

// Config configures a DB.
type Config struct {
	// Client is the DynamoDB client; when nil, Open builds one with
	// NewClient(ctx, ClientConfig).
	Client *dynamodb.Client
	ClientConfig
	// TablePrefix is prepended to every schema name to form the DynamoDB
	// table name (e.g. "prod_").
	TablePrefix string
	// Schemas declares the tables and their indexes.
	Schemas []store.TableSchema
	// TTLAttribute is the time-to-live attribute Migrate enables on every
	// table ("" : store.DefaultTTLAttribute; "-" : TTL is left alone).
	// DynamoDB deletes expired items within days, not at once.
	TTLAttribute string
	// MaxRetries bounds the retries of a transaction cancelled by a conflict
	// or throttling, of a write that met a transaction in progress and of
	// unprocessed batch keys (0 : 8).
	MaxRetries int
	// PollInterval is how often Migrate checks that tables and indexes are
	// ACTIVE (0 : 1 s; DynamoDB Local creates them at once).
	PollInterval time.Duration
	// WriteTimeout bounds how long one call of a write waits for DynamoDB's
	// answer once sent, whatever the caller's context does (0 : 30 s; see
	// DB.written).
	WriteTimeout time.Duration
	// Logger receives Migrate's messages and retries (nil : slog.Default()).
	Logger *slog.Logger
	// Cursors signs the pagination cursors of Query and Scan (nil : a key
	// of the process, so cursors are valid in this process only; replicas
	// sharing cursors need the same key).
	Cursors *page.Codec
}

// DB is a store on DynamoDB. It implements store.Store and is safe for
// concurrent use.
type DB struct {
	client     *dynamodb.Client
	log        *slog.Logger
	tables     map[string]*table
	order      []*table          // in declaration order
	byDDB      map[string]string // DynamoDB table name -> store table name
	ttlAttr    string
	maxRetries int
	poll       time.Duration
	writeWait  time.Duration
	cursor     *page.Codec
	closed     atomic.Bool
}

var _ store.Store = (*DB)(nil)

// table is a declared table.
type table struct {
	name    string // the store's name
	ddbName string // TablePrefix + name
	indexes []store.IndexSchema
	// keyAttrs are the index key attributes, checked on every write.
	keyAttrs []string
}

func (t *table) index(name string) (store.IndexSchema, bool) {
	for _, ix := range t.indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return store.IndexSchema{}, false
}

// errClosed is returned by operations on a closed DB.
var errClosed = errors.New("dynamodb: store is closed")

// tableName is DynamoDB's rule for table and index names.
var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// Cursors returns the codec of the store's pagination cursors (nil : the
// process's key).
func (db *DB) Cursors() *page.Codec { return db.cursor }

// Open returns a DB for the declared tables. It does no I/O besides building
// a client when cfg.Client is nil; call Migrate to create the tables. Table
// and index names must be unique and, with the prefix, valid DynamoDB names.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	db := &DB{
		log:        cfg.Logger,
		tables:     make(map[string]*table, len(cfg.Schemas)),
		byDDB:      make(map[string]string, len(cfg.Schemas)),
		ttlAttr:    cfg.TTLAttribute,
		maxRetries: cfg.MaxRetries,
		poll:       cfg.PollInterval,
		writeWait:  cfg.WriteTimeout,
		cursor:     cfg.Cursors,
	}
	if db.log == nil {
		db.log = slog.Default()
	}
	if db.ttlAttr == "" {
		db.ttlAttr = store.DefaultTTLAttribute
	}
	if db.maxRetries <= 0 {
		db.maxRetries = 8
	}
	if db.poll <= 0 {
		db.poll = time.Second
	}
	if db.writeWait <= 0 {
		db.writeWait = 30 * time.Second
	}
	for _, s := range cfg.Schemas {
		if !tableName.MatchString(cfg.TablePrefix + s.Name) {
			return nil, fmt.Errorf("dynamodb: table name %q: %w", cfg.TablePrefix+s.Name, store.ErrInvalidRequest)
		}
		if _, dup := db.tables[s.Name]; dup {
			return nil, fmt.Errorf("dynamodb: table %q declared twice: %w", s.Name, store.ErrInvalidRequest)
		}
		t := &table{name: s.Name, ddbName: cfg.TablePrefix + s.Name}
		for _, ix := range s.Indexes {
			if !tableName.MatchString(ix.Name) || ix.PK == "" || ix.SK == "" {
				return nil, fmt.Errorf("dynamodb: index %q of table %q: %w", ix.Name, s.Name, store.ErrInvalidRequest)
			}
			if _, dup := t.index(ix.Name); dup {
				return nil, fmt.Errorf("dynamodb: index %q of table %q declared twice: %w", ix.Name, s.Name, store.ErrInvalidRequest)
			}
			t.indexes = append(t.indexes, ix)
			for _, a := range [...]string{ix.PK, ix.SK} {
				if a != store.AttrPK && a != store.AttrSK && !contains(t.keyAttrs, a) {
					t.keyAttrs = append(t.keyAttrs, a)
				}
			}
		}
		db.tables[s.Name] = t
		db.byDDB[t.ddbName] = t.name
		db.order = append(db.order, t)
	}
	db.client = cfg.Client
	if db.client == nil {
		c, err := NewClient(ctx, cfg.ClientConfig)
		if err != nil {
			return nil, err
		}
		db.client = c
	}
	return db, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Client returns the DynamoDB client the DB uses.
func (db *DB) Client() *dynamodb.Client { return db.client }

// TableName returns the DynamoDB name of a declared table ("" when unknown).
func (db *DB) TableName(name string) string {
	if t, ok := db.tables[name]; ok {
		return t.ddbName
	}
	return ""
}

// Close marks the DB closed: later operations fail. The client has nothing
// to release.
func (db *DB) Close() error {
	db.closed.Store(true)
	return nil
}

// enter checks that an operation may start: the DB is open and ctx is live.
func (db *DB) enter(ctx context.Context) error {
	if db.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// written runs call, one call of a write to DynamoDB, under ctx's values
// without its cancellation and deadline, bounded by Config.WriteTimeout.
// A write DynamoDB has received may be applied whatever the caller does
// next, so once sent it waits for DynamoDB's answer and reports it: a caller
// that gives up (a client that disconnects, say) never turns an applied
// write into an error, which the embedded engine, committing without
// waiting on anything, never does either. Only a write not yet sent stops
// at the caller's cancellation (enter, and the waits between retries).
func (db *DB) written(ctx context.Context, call func(context.Context) error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), db.writeWait)
	defer cancel()
	return call(wctx)
}

// table returns the declared table name, or an error wrapping
// store.ErrInvalidRequest.
func (db *DB) table(name string) (*table, error) {
	t, ok := db.tables[name]
	if !ok {
		return nil, fmt.Errorf("unknown table %q: %w", name, store.ErrInvalidRequest)
	}
	return t, nil
}

// checkKey validates k and returns its table.
func (db *DB) checkKey(k store.Key) (*table, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return db.table(k.Table)
}

// Sync does nothing: a DynamoDB write is durable when it returns, also
// under store.DeferSync.
func (db *DB) Sync(ctx context.Context) error {
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("dynamodb: sync: %w", err)
	}
	return nil
}

// Ping checks that DynamoDB answers and the first declared table exists
// (DescribeTable); with no tables it lists one table name.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("dynamodb: ping: %w", err)
	}
	if len(db.order) == 0 {
		if _, err := db.client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
			return fmt.Errorf("dynamodb: ping: %w", mapErr(err))
		}
		return nil
	}
	if _, err := db.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(db.order[0].ddbName)}); err != nil {
		return fmt.Errorf("dynamodb: ping %s: %w", db.order[0].ddbName, mapErr(err))
	}
	return nil
}

// validateIndexAttrs checks the index key attributes an item carries:
// DynamoDB rejects a GSI key attribute that is not a non-empty string.
func (t *table) validateIndexAttrs(it store.Item) error {
	for _, a := range t.keyAttrs {
		if v, ok := it[a]; ok {
			if err := checkIndexValue(a, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateIndexActions checks what update actions write to index key attributes.
func (t *table) validateIndexActions(actions []store.Action) error {
	for _, a := range actions {
		if !contains(t.keyAttrs, a.Attr) {
			continue
		}
		switch a.Op {
		case store.ActSet, store.ActSetIfAbsent:
			if err := checkIndexValue(a.Attr, a.Value); err != nil {
				return err
			}
		case store.ActAdd:
			return fmt.Errorf("add to index key attribute %q: %w", a.Attr, store.ErrInvalidRequest)
		}
	}
	return nil
}

func checkIndexValue(attr string, v store.Value) error {
	if v.Kind() != store.KindString || v.Str() == "" || len(v.Str()) > store.MaxKeyLen {
		return fmt.Errorf("index key attribute %q = %s: must be a non-empty string of at most %d bytes: %w",
			attr, truncate(v.String(), 40), store.MaxKeyLen, store.ErrInvalidRequest)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// keyString is a map key for a store.Key (NUL cannot occur in valid keys).
func keyString(table, pk, sk string) string {
	return strings.Join([]string{table, pk, sk}, "\x00")
}
