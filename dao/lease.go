package dao

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/store"
)

// Leases and group members live in the inventory table:
//
//	PK LEASE#<name>   SK LEASE              a lease: one holder at a time
//	PK GROUP#<group>  SK MEMBER#<member>    a live member of a group
//
// Both carry holder (S: the lease's holder, or the member) and until_ms (N:
// Unix milliseconds; the lease ends, or the member counts as gone, after
// that instant unless renewed), and expires_at (Unix seconds, a day after
// until_ms), so that the store's time to live deletes what a process left
// behind. No item has index attributes: they are in no GSI.
//
// The writes are conditional on the store's state, so they decide between
// processes on any engine: a lease is taken when absent or ended, and
// renewed only by its holder. Expiry compares until_ms with the caller's
// clock (the now it passes); the package lease keeps its holders well
// inside their terms, so that clocks a little apart never let two hold one.
const (
	attrHolder  = "holder"
	attrUntilMS = "until_ms"
	// leaseLinger is how long the store keeps an ended lease or member
	// before its time to live deletes it.
	leaseLinger = 24 * time.Hour
)

// LeaseDAO stores leases and group members.
type LeaseDAO struct{ base }

// Lease is a stored lease.
type Lease struct {
	Name   string
	Holder string
	Until  time.Time // millisecond precision
}

func leaseItem(holder string, until time.Time) store.Item {
	return store.Item{attrHolder: store.S(holder), attrUntilMS: store.Int(until.UnixMilli()),
		store.DefaultTTLAttribute: store.Int(until.Add(leaseLinger).Unix())}
}

func decodeLease(name string, it store.Item) Lease {
	return Lease{Name: name, Holder: it.Str(attrHolder), Until: time.UnixMilli(it.Int(attrUntilMS)).UTC()}
}

// Acquire takes lease name for holder until `until`, when the lease is
// absent, ended before now, or held by holder already (a renewal). It
// reports whether holder holds it now and returns the lease as stored: when
// another holder has it, that holder's lease (ok false, no error).
func (d *LeaseDAO) Acquire(ctx context.Context, name, holder string, now, until time.Time) (Lease, bool, error) {
	it := leaseItem(holder, until)
	acts := make([]store.Action, 0, len(it))
	for _, a := range []string{attrHolder, attrUntilMS, store.DefaultTTLAttribute} {
		acts = append(acts, store.Set(a, it[a]))
	}
	got, err := d.s.Update(ctx, store.Update{Key: d.t.leaseKey(name), Actions: acts,
		Cond: store.Or(store.ItemNotExists(), store.Eq(attrHolder, store.S(holder)),
			store.Lt(attrUntilMS, store.Int(now.UnixMilli())))})
	if err == nil {
		return decodeLease(name, got), true, nil
	}
	if !errors.Is(err, store.ErrConditionFailed) {
		return Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	cur, err := d.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Lease{Name: name}, false, nil // released since: the next attempt takes it
	}
	return cur, false, err
}

// Get returns lease name as stored (store.ErrNotFound, wrapped, when no
// one has taken it or its last holder released it).
func (d *LeaseDAO) Get(ctx context.Context, name string) (Lease, error) {
	it, err := d.s.Get(ctx, d.t.leaseKey(name))
	if err != nil {
		return Lease{}, fmt.Errorf("read lease %s: %w", name, err)
	}
	return decodeLease(name, it), nil
}

// Release gives lease name up if holder holds it, so that another holder
// may take it at once. It reports whether holder held it.
func (d *LeaseDAO) Release(ctx context.Context, name, holder string) (bool, error) {
	err := d.s.Delete(ctx, store.Delete{Key: d.t.leaseKey(name), Cond: store.Eq(attrHolder, store.S(holder))})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrConditionFailed):
		return false, nil
	}
	return false, fmt.Errorf("release lease %s: %w", name, err)
}

// Heartbeat records member as a live member of group until `until`.
func (d *LeaseDAO) Heartbeat(ctx context.Context, group, member string, until time.Time) error {
	if err := d.s.Put(ctx, store.Put{Key: d.t.memberKey(group, member), Item: leaseItem(member, until)}); err != nil {
		return fmt.Errorf("heartbeat of %s in %s: %w", member, group, err)
	}
	return nil
}

// Leave removes member from group.
func (d *LeaseDAO) Leave(ctx context.Context, group, member string) error {
	if err := d.s.Delete(ctx, store.Delete{Key: d.t.memberKey(group, member)}); err != nil {
		return fmt.Errorf("leave %s: %w", group, err)
	}
	return nil
}

// MaxMembers is the most members Members reads.
const MaxMembers = 1000

// Members returns the members of group whose last heartbeat lasts until
// now or later, sorted.
func (d *LeaseDAO) Members(ctx context.Context, group string, now time.Time) ([]string, error) {
	items, err := d.queryAll(ctx, store.Query{Table: d.t.Inventory, PK: pkGroup + group,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: skMember}}, MaxMembers)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", group, err)
	}
	ms := now.UnixMilli()
	out := make([]string, 0, len(items))
	for _, it := range items {
		if it.Int(attrUntilMS) >= ms {
			out = append(out, strings.TrimPrefix(it.Str(store.AttrSK), skMember))
		}
	}
	slices.Sort(out)
	return out, nil
}
