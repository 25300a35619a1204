// Package store is the single-table storage contract every engine implements
// (store/embedded on Pebble, store/dynamodb on Amazon DynamoDB).
//
// The model is DynamoDB's: named tables of items; an item is a set of named
// attributes addressed by a partition key (PK) and a sort key (SK); tables may
// declare global secondary indexes (GSIs) over two string attributes, sparse
// (an item without both attributes is not in the index). Writes may carry a
// condition evaluated against the item as it is before the write. Transact
// applies up to MaxTransactItems writes across tables atomically: all or none.
//
// Errors (all *apperr.Error, test with errors.Is / errors.As):
//   - ErrNotFound          Get of a missing item (kind not_found)
//   - ErrConditionFailed   a write's condition did not hold (kind conflict)
//   - *TxCanceledError     a transaction was not applied; Reasons[i] says why item i
//     failed (nil, ErrConditionFailed or ErrTxConflict); errors.Is(err, ErrConditionFailed)
//     is true when any item's condition failed
//   - ErrTxConflict        a concurrent transaction touched the same items (retryable)
//   - ErrInvalidRequest    malformed request: bad key, too many items, same item twice
//   - page.ErrInvalidCursor a cursor not made for this query
//   - ErrUnavailable       the engine failed (a write to its disk failed): every later
//     operation fails at once with it until the process restarts (kind store_unavailable)
//
// Engines are safe for concurrent use. A successful write is durable, unless
// it was made under DeferSync; then it is durable after the next Sync.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Limits shared by all engines (DynamoDB's where it has one).
const (
	MaxTransactItems = 100
	MaxBatchGet      = 100
	MaxQueryLimit    = 1000
	MaxKeyLen        = 1024
	MaxItemSize      = 400 * 1024
)

// Attribute names the engines reserve for the primary key. Every stored item
// carries them as string attributes.
const (
	AttrPK = "PK"
	AttrSK = "SK"
)

// Sentinel errors; engines return them wrapped.
var (
	ErrNotFound        = apperr.New(apperr.NotFound, "item not found")
	ErrConditionFailed = apperr.New(apperr.Conflict, "condition failed")
	ErrTxConflict      = apperr.New(apperr.Conflict, "transaction conflict")
	ErrInvalidRequest  = apperr.New(apperr.Invalid, "invalid store request")
	ErrUnavailable     = apperr.New(apperr.StoreUnavailable, "store unavailable")
)

// TxCanceledError reports why a transaction was not applied, one reason per
// write in the order given (nil for writes that would have succeeded).
type TxCanceledError struct {
	Reasons []error
}

func (e *TxCanceledError) Error() string {
	var b strings.Builder
	b.WriteString("transaction canceled: [")
	for i, r := range e.Reasons {
		if i > 0 {
			b.WriteString(", ")
		}
		if r == nil {
			b.WriteString("None")
		} else {
			b.WriteString(r.Error())
		}
	}
	b.WriteString("]")
	return b.String()
}

// Is makes errors.Is(err, ErrConditionFailed) and errors.Is(err, ErrTxConflict)
// true when any write failed for that reason.
func (e *TxCanceledError) Is(target error) bool {
	for _, r := range e.Reasons {
		if r != nil && errors.Is(r, target) {
			return true
		}
	}
	return false
}

// Unwrap exposes the reasons to errors.As / errors.Is.
func (e *TxCanceledError) Unwrap() []error {
	out := make([]error, 0, len(e.Reasons)+1)
	out = append(out, apperr.New(apperr.Conflict, "transaction canceled"))
	for _, r := range e.Reasons {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// FailedIndex returns the index of the first write whose condition failed, or -1.
func (e *TxCanceledError) FailedIndex() int {
	for i, r := range e.Reasons {
		if r != nil && errors.Is(r, ErrConditionFailed) {
			return i
		}
	}
	return -1
}

// Key addresses one item.
type Key struct {
	Table string
	PK    string
	SK    string
}

func (k Key) String() string { return k.Table + "/" + k.PK + "/" + k.SK }

// Validate checks the key is well formed: table, PK and SK non-empty, no NUL
// byte, each at most MaxKeyLen bytes.
func (k Key) Validate() error {
	for _, s := range [...]string{k.Table, k.PK, k.SK} {
		if s == "" || len(s) > MaxKeyLen || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("key %q: %w", k.String(), ErrInvalidRequest)
		}
	}
	return nil
}

// TableSchema declares a table and its global secondary indexes.
type TableSchema struct {
	Name    string
	Indexes []IndexSchema
}

// IndexSchema declares a GSI keyed by two string attributes of the item. An
// item is in the index only when it has both attributes as strings.
type IndexSchema struct {
	Name string
	PK   string // attribute holding the index partition key
	SK   string // attribute holding the index sort key
}

// Store is the contract. Every method takes a context and honours its
// cancellation before doing I/O. A write that has started (sent to DynamoDB,
// or past the embedded engine's locks) is not abandoned when the context is
// canceled: it returns what the store did, so a caller that gives up never
// sees an error for a write that was applied.
type Store interface {
	// Get returns the item with key k, or ErrNotFound. Reads are strongly consistent.
	Get(ctx context.Context, k Key) (Item, error)
	// BatchGet returns the items for keys in the same order; a missing item is nil.
	// At most MaxBatchGet keys.
	BatchGet(ctx context.Context, keys []Key) ([]Item, error)
	// Put writes a whole item (replacing any existing one) if Cond holds.
	Put(ctx context.Context, p Put) error
	// Update applies p's actions to the item (creating it when absent, like
	// DynamoDB's UpdateItem) if Cond holds, and returns the item after the update.
	Update(ctx context.Context, u Update) (Item, error)
	// Delete removes the item if Cond holds. Deleting a missing item without a
	// condition succeeds.
	Delete(ctx context.Context, d Delete) error
	// Transact applies all writes atomically or none, returning *TxCanceledError
	// when any condition fails. 1..MaxTransactItems writes, each item at most once.
	Transact(ctx context.Context, writes []Write) error
	// Query reads items of one partition (of the table or of an index) in
	// sort-key order.
	Query(ctx context.Context, q Query) (Page, error)
	// Scan reads every item of a table in an engine-defined order, a page at a
	// time (verification and analytics; never on a request's hot path).
	Scan(ctx context.Context, s Scan) (Page, error)
	// Sync makes durable every write that returned before it, including
	// those made under DeferSync. Engines whose writes are durable when
	// they return do nothing.
	Sync(ctx context.Context) error
	// Ping reports whether the engine can serve requests.
	Ping(ctx context.Context) error
	// Close releases the engine's resources.
	Close() error
}

// Put writes a whole item. The item's PK/SK attributes are set from Key.
type Put struct {
	Key  Key
	Item Item
	Cond *Cond
	// Fresh declares that Key embeds an id generated for this very write
	// (ids.Generator: unique within the process, time-ordered across
	// restarts), so no item can be at Key yet. Cond must then be nil or
	// ItemNotExists. An engine may rely on it instead of reading the item:
	// the embedded engine writes a fresh item without a lookup (on a busy
	// store the lookup of a missing key was the largest single cost of an
	// order), DynamoDB still evaluates Cond on the server at no extra cost.
	Fresh bool
}

// Update changes attributes of one item.
type Update struct {
	Key     Key
	Actions []Action
	Cond    *Cond
}

// Delete removes one item.
type Delete struct {
	Key  Key
	Cond *Cond
}

// Check is a condition on an item that a transaction requires without writing it.
type Check struct {
	Key  Key
	Cond *Cond
}

// Write is one element of a transaction: exactly one field is set.
type Write struct {
	Put    *Put
	Update *Update
	Delete *Delete
	Check  *Check
}

// Key returns the key the write addresses.
func (w Write) Key() Key {
	switch {
	case w.Put != nil:
		return w.Put.Key
	case w.Update != nil:
		return w.Update.Key
	case w.Delete != nil:
		return w.Delete.Key
	case w.Check != nil:
		return w.Check.Key
	}
	return Key{}
}

// Condition returns the write's condition (nil when none).
func (w Write) Condition() *Cond {
	switch {
	case w.Put != nil:
		return w.Put.Cond
	case w.Update != nil:
		return w.Update.Cond
	case w.Delete != nil:
		return w.Delete.Cond
	case w.Check != nil:
		return w.Check.Cond
	}
	return nil
}

// Validate checks the write is well formed (one operation, valid key, valid
// actions; a Check needs a condition).
func (w Write) Validate() error {
	n := 0
	for _, set := range [...]bool{w.Put != nil, w.Update != nil, w.Delete != nil, w.Check != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("write must have exactly one operation: %w", ErrInvalidRequest)
	}
	if err := w.Key().Validate(); err != nil {
		return err
	}
	if w.Check != nil && w.Check.Cond == nil {
		return fmt.Errorf("check without condition: %w", ErrInvalidRequest)
	}
	if w.Update != nil {
		for _, a := range w.Update.Actions {
			if err := a.validate(); err != nil {
				return err
			}
		}
	}
	if w.Put != nil && w.Put.Item == nil {
		return fmt.Errorf("put without item: %w", ErrInvalidRequest)
	}
	if w.Put != nil && w.Put.Fresh && w.Put.Cond != nil && (w.Put.Cond.Op != CondNotExists || w.Put.Cond.Attr != "") {
		return fmt.Errorf("fresh put with a condition other than ItemNotExists: %w", ErrInvalidRequest)
	}
	if c := w.Condition(); c != nil {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// ValidateTransaction checks the shared transaction rules: 1..MaxTransactItems
// well-formed writes, no item addressed twice.
func ValidateTransaction(writes []Write) error {
	if len(writes) == 0 || len(writes) > MaxTransactItems {
		return fmt.Errorf("transaction of %d writes: %w", len(writes), ErrInvalidRequest)
	}
	seen := make(map[Key]struct{}, len(writes))
	for _, w := range writes {
		if err := w.Validate(); err != nil {
			return err
		}
		k := w.Key()
		if _, dup := seen[k]; dup {
			return fmt.Errorf("item %s twice in one transaction: %w", k, ErrInvalidRequest)
		}
		seen[k] = struct{}{}
	}
	return nil
}

// ActionOp is the kind of an update action.
type ActionOp uint8

// Update actions, as in DynamoDB's UpdateExpression.
const (
	ActSet         ActionOp = iota + 1 // SET attr = value
	ActAdd                             // SET attr = attr + number (a missing attr counts as 0)
	ActRemove                          // REMOVE attr
	ActSetIfAbsent                     // SET attr = if_not_exists(attr, value)
)

// Action is one change of an Update.
type Action struct {
	Op    ActionOp
	Attr  string
	Value Value
}

// Set returns an action that sets attr to v.
func Set(attr string, v Value) Action { return Action{Op: ActSet, Attr: attr, Value: v} }

// Add returns an action that adds the number n to attr (exact decimal arithmetic).
func Add(attr string, n Value) Action { return Action{Op: ActAdd, Attr: attr, Value: n} }

// SetIfAbsent returns an action that sets attr to v only when the item has no attr
// (for created_at on items an Update may create).
func SetIfAbsent(attr string, v Value) Action {
	return Action{Op: ActSetIfAbsent, Attr: attr, Value: v}
}

// Remove returns an action that removes attr.
func Remove(attr string) Action { return Action{Op: ActRemove, Attr: attr} }

func (a Action) validate() error {
	if a.Attr == "" || a.Attr == AttrPK || a.Attr == AttrSK {
		return fmt.Errorf("action on attribute %q: %w", a.Attr, ErrInvalidRequest)
	}
	switch a.Op {
	case ActSet, ActSetIfAbsent:
		if a.Value.IsZero() {
			return fmt.Errorf("set of an absent value to %q: %w", a.Attr, ErrInvalidRequest)
		}
		return nil
	case ActAdd:
		if a.Value.Kind() != KindNumber {
			return fmt.Errorf("add of a non-number to %q: %w", a.Attr, ErrInvalidRequest)
		}
		return nil
	case ActRemove:
		return nil
	}
	return fmt.Errorf("unknown action %d: %w", a.Op, ErrInvalidRequest)
}

// SortOp is the comparison of a query's sort-key condition.
type SortOp uint8

// Sort-key conditions.
const (
	SortAny        SortOp = iota // every item of the partition
	SortEq                       // SK == Value
	SortBeginsWith               // SK has prefix Value
	SortBetween                  // Value <= SK <= Value2
	SortLt
	SortLe
	SortGt
	SortGe
)

// SortCond restricts a query's sort keys (compared as UTF-8 bytes).
type SortCond struct {
	Op     SortOp
	Value  string
	Value2 string
}

// Query reads one partition of a table or of an index.
type Query struct {
	Table string
	Index string // "" for the table itself
	PK    string // partition key value (of the index when Index is set)
	SK    SortCond
	// Desc returns items in descending sort-key order.
	Desc bool
	// Limit is the page size, 1..MaxQueryLimit (0 means MaxQueryLimit).
	Limit int
	// Cursor continues a previous page of the same query ("" starts at the beginning).
	Cursor string
}

// Scan reads a whole table.
type Scan struct {
	Table string
	// Limit is the page size, 1..MaxQueryLimit (0 means MaxQueryLimit).
	Limit  int
	Cursor string
}

// Page is one page of query results. Cursor is "" when there are no more items.
type Page struct {
	Items  []Item
	Cursor string
}

// DefaultTTLAttribute is the attribute of time to live unless an engine is
// configured otherwise: an item whose attribute is an integer number of
// seconds since the Unix epoch may be deleted by the engine once that time
// has passed (DynamoDB's time to live, lazily; store/embedded DeleteExpired).
// Items without it never expire.
const DefaultTTLAttribute = "expires_at"

// deferSyncKey marks a context made by DeferSync.
type deferSyncKey struct{}

// DeferSync returns a copy of ctx under which a write may return before it
// is durable. Such a write is still atomic, and visible to readers as soon as
// it returns (before it is durable); it becomes durable at the next Sync, or
// earlier. A crash before then may lose it, whole, and then also every write
// committed after it: engines make writes durable in commit order, so a
// durable write never rests on a lost one.
//
// It is for an operation of several writes that answers its client once,
// after all of them (a batch of orders: one log sync instead of one per
// order). The operation must call Sync before it answers.
func DeferSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferSyncKey{}, true)
}

// SyncDeferred reports whether ctx was made by DeferSync (for engines).
func SyncDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(deferSyncKey{}).(bool)
	return v
}
