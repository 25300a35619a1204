package dao

import (
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/orderprocessor/orderprocessor/store"
)

// Role names what a write of a transaction stands for, so that a failed
// condition maps back to its meaning by name, whatever the order in which
// the writes were added.
type Role uint8

// The roles of the writes the DAOs build.
const (
	RoleNone          Role = iota // a write whose failure means nothing of its own
	RoleProfile                   // a user's profile (exists: the username is taken)
	RoleEmail                     // a user's email guard (exists: the email is taken)
	RoleNewBalance                // a user's first balance (exists: the user exists)
	RoleBalance                   // a change of a cash balance (fails: not enough available or held cash)
	RoleLedger                    // a ledger entry, or the status of one
	RoleHolding                   // a change of an asset holding (fails: not enough quantity, or it changed)
	RoleOrder                     // the order the transaction stores or moves
	RoleClientOrderID             // the guard of an order's client order id (exists: the id is taken)
	RolePartner                   // the OCO partner of the order
	RoleDailyLimit                // a user's daily deposit or withdrawal total (fails: over the limit)
	RoleAsset                     // an asset of the catalogue
	RolePricePoint                // a point of an asset's price history
	RoleIdem                      // an idempotency record (exists: the key was used)
	RoleActive                    // a user's active-today marker (exists: the user placed an order today)
)

var roleNames = [...]string{
	RoleNone: "none", RoleProfile: "profile", RoleEmail: "email", RoleNewBalance: "new_balance",
	RoleBalance: "balance", RoleLedger: "ledger", RoleHolding: "holding", RoleOrder: "order",
	RoleClientOrderID: "client_order_id", RolePartner: "partner", RoleDailyLimit: "daily_limit",
	RoleAsset: "asset", RolePricePoint: "price_point", RoleIdem: "idem", RoleActive: "active",
}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// txCap is the capacity a Tx starts with: every write of an order's
// transaction (cash, holding, ledger entry, volume shard, daily bucket,
// hold entry, OCO partner, order, client order id guard, idempotency
// record, active marker) without growing.
const txCap = 11

// Tx builds the writes of one store transaction, each with its Role. The
// zero value is an empty transaction. Failed and Refused read a
// *store.TxCanceledError of its writes by role, never by position.
type Tx struct {
	writes []store.Write
	roles  [store.MaxTransactItems]Role
}

// Add appends w with its role r. Writes past store.MaxTransactItems are
// kept (the store refuses the transaction) without a role.
func (t *Tx) Add(r Role, w store.Write) {
	if t.writes == nil {
		t.writes = make([]store.Write, 0, txCap)
	}
	if n := len(t.writes); n < len(t.roles) {
		t.roles[n] = r
	}
	t.writes = append(t.writes, w)
}

// Writes returns the writes, for store.Transact, in the order they were
// added (or in SetTxOrder's).
func (t *Tx) Writes() []store.Write {
	if p := txOrder.Load(); p != nil {
		t.reorder((*p)(len(t.writes)))
	}
	return t.writes
}

// Len returns the number of writes.
func (t *Tx) Len() int { return len(t.writes) }

// role returns the role of write i.
func (t *Tx) role(i int) Role {
	if i < 0 || i >= len(t.writes) || i >= len(t.roles) {
		return RoleNone
	}
	return t.roles[i]
}

// Failed returns the role of a write whose condition failed in err (of
// store.Transact of t's writes), and whether one did: the first role of
// precedence whose write failed, else the role of the first failed write
// in the order added. Callers name in precedence every role whose failure
// they tell apart, so that the answer does not depend on that order.
func (t *Tx) Failed(err error, precedence ...Role) (Role, bool) {
	var tc *store.TxCanceledError
	if !errors.As(err, &tc) {
		return RoleNone, false
	}
	for _, r := range precedence {
		if t.failed(tc, r) {
			return r, true
		}
	}
	i := tc.FailedIndex()
	if i < 0 {
		return RoleNone, false
	}
	return t.role(i), true
}

// Refusal is the error a failed condition of a write of Role stands for.
type Refusal struct {
	Role Role
	Err  error
}

// Refused returns the Err of the first of refusals whose role failed its
// condition in err (of store.Transact of t's writes), or nil.
func (t *Tx) Refused(err error, refusals ...Refusal) error {
	var tc *store.TxCanceledError
	if !errors.As(err, &tc) {
		return nil
	}
	for _, rf := range refusals {
		if t.failed(tc, rf.Role) {
			return rf.Err
		}
	}
	return nil
}

// failed reports whether the condition of a write of role r failed in tc.
func (t *Tx) failed(tc *store.TxCanceledError, r Role) bool {
	for i, reason := range tc.Reasons {
		if reason != nil && t.role(i) == r && errors.Is(reason, store.ErrConditionFailed) {
			return true
		}
	}
	return false
}

// SetTxOrder makes every Tx reorder its writes (and their roles with them)
// by perm(n), a permutation of 0..n-1, when Writes returns them, until the
// returned function restores the order added. It is a test hook: a mapping
// of failures by role gives the same answers in any order.
func SetTxOrder(perm func(n int) []int) (restore func()) {
	txOrder.Store(&perm)
	return func() { txOrder.Store(nil) }
}

var txOrder atomic.Pointer[func(n int) []int]

// reorder applies the permutation of SetTxOrder to t.
func (t *Tx) reorder(perm []int) {
	n := len(t.writes)
	if n > len(t.roles) || len(perm) != n {
		return
	}
	ws := make([]store.Write, n)
	var roles [store.MaxTransactItems]Role
	for i, j := range perm {
		ws[i], roles[i] = t.writes[j], t.roles[j]
	}
	copy(t.writes, ws)
	t.roles = roles
}
