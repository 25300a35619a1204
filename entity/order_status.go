package entity

import (
	"strings"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// OrderStatus is the state of an order.
type OrderStatus string

// Order statuses.
const (
	StatusPending    OrderStatus = "pending"
	StatusConfirmed  OrderStatus = "confirmed"
	StatusQueued     OrderStatus = "queued"
	StatusTriggered  OrderStatus = "triggered"
	StatusProcessing OrderStatus = "processing"
	StatusCompleted  OrderStatus = "completed"
	StatusCancelled  OrderStatus = "cancelled"
	StatusFailed     OrderStatus = "failed"
	StatusExpired    OrderStatus = "expired"
)

// OrderStatuses returns every status in lifecycle order.
func OrderStatuses() []OrderStatus {
	return []OrderStatus{StatusPending, StatusConfirmed, StatusQueued, StatusTriggered, StatusProcessing,
		StatusCompleted, StatusCancelled, StatusFailed, StatusExpired}
}

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool {
	for _, k := range OrderStatuses() {
		if s == k {
			return true
		}
	}
	return false
}

// IsTerminal reports whether s is final: completed, cancelled, failed or expired.
func (s OrderStatus) IsTerminal() bool {
	return s == StatusCompleted || s == StatusCancelled || s == StatusFailed || s == StatusExpired
}

// IsOpen reports whether an order in status s may still hold funds or assets
// and may still execute (a known, non-terminal status).
func (s OrderStatus) IsOpen() bool { return s.Valid() && !s.IsTerminal() }

// Actor is who causes a status transition.
type Actor string

// Actors.
const (
	// ActorUser is the order's owner, through the API (DELETE /orders/{id}).
	ActorUser Actor = "user"
	// ActorSystem is the trading flows acting on a request (placement, market
	// execution, OCO cancellation, admin actions): it may make every transition.
	ActorSystem Actor = "system"
	// ActorEngine is the background trigger and expiry engine.
	ActorEngine Actor = "engine"
)

// The status machine (docs/guarantees.md) and who may make each transition:
//
//	from        to          user  system  engine
//	pending     confirmed         x
//	pending     cancelled   x     x
//	pending     failed            x
//	confirmed   queued            x
//	confirmed   processing        x
//	confirmed   cancelled   x     x
//	queued      triggered         x       x
//	queued      cancelled   x     x       x      (engine: OCO sibling executed, ioc/fok)
//	queued      expired           x       x
//	triggered   processing        x       x
//	triggered   failed            x       x
//	processing  completed         x       x
//	processing  failed            x       x
//
// Terminal statuses have no transitions. A user may only cancel, and only
// before the order is triggered.
var transitions = map[OrderStatus]map[OrderStatus][]Actor{
	StatusPending: {
		StatusConfirmed: {ActorSystem},
		StatusCancelled: {ActorUser, ActorSystem},
		StatusFailed:    {ActorSystem},
	},
	StatusConfirmed: {
		StatusQueued:     {ActorSystem},
		StatusProcessing: {ActorSystem},
		StatusCancelled:  {ActorUser, ActorSystem},
	},
	StatusQueued: {
		StatusTriggered: {ActorSystem, ActorEngine},
		StatusCancelled: {ActorUser, ActorSystem, ActorEngine},
		StatusExpired:   {ActorSystem, ActorEngine},
	},
	StatusTriggered: {
		StatusProcessing: {ActorSystem, ActorEngine},
		StatusFailed:     {ActorSystem, ActorEngine},
	},
	StatusProcessing: {
		StatusCompleted: {ActorSystem, ActorEngine},
		StatusFailed:    {ActorSystem, ActorEngine},
	},
}

// CanTransition reports whether the machine allows from -> to (by any actor).
func CanTransition(from, to OrderStatus) bool {
	_, ok := transitions[from][to]
	return ok
}

// CanTransitionBy reports whether actor may move an order from -> to.
func CanTransitionBy(actor Actor, from, to OrderStatus) bool {
	for _, a := range transitions[from][to] {
		if a == actor {
			return true
		}
	}
	return false
}

// NextStatuses returns the statuses reachable from s in one step, in
// OrderStatuses order (none for a terminal or unknown status).
func NextStatuses(s OrderStatus) []OrderStatus {
	var out []OrderStatus
	for _, to := range OrderStatuses() {
		if CanTransition(s, to) {
			out = append(out, to)
		}
	}
	return out
}

// IsCancellable reports whether the owner may cancel an order in status s.
func (s OrderStatus) IsCancellable() bool { return CanTransitionBy(ActorUser, s, StatusCancelled) }

// StatusChange is one entry of an order's status history.
type StatusChange struct {
	Status OrderStatus `json:"status"`
	At     Time        `json:"at"`
	Reason string      `json:"reason,omitempty"`
}

// Transition moves o to status to on behalf of actor at time at, appending a
// StatusChange and setting UpdatedAt. It returns an apperr.Conflict error
// (o unchanged) when the machine or the actor table forbids it. Version is the
// DAO's business.
func (o *Order) Transition(to OrderStatus, actor Actor, at Time, reason string) error {
	if !CanTransitionBy(actor, o.Status, to) {
		if o.Status.IsTerminal() {
			return apperr.New(apperr.Conflict, "order %s is already %s", o.OrderID, o.Status)
		}
		return apperr.New(apperr.Conflict, "order %s cannot move from %s to %s (%s)", o.OrderID, o.Status, to, actor)
	}
	o.Status = to
	o.StatusHistory = append(o.StatusHistory, StatusChange{Status: to, At: at, Reason: reason})
	o.UpdatedAt = at
	return nil
}

// Reasons that open the status-history entries recording a change that is
// not a transition: the entry repeats the order's status.
const (
	// ReasonAmended opens the entry of an amendment of a queued order
	// ("amended: quantity 1 -> 2").
	ReasonAmended = "amended"
	// ReasonReversed opens the entry of the reversal of a completed
	// order ("reversed by admin: <reason>").
	ReasonReversed = "reversed"
)

// IsNote reports whether c, following prev in a status history, records
// an amendment of a queued order or the reversal of a completed one rather
// than a transition: the status repeats and the reason says which.
func (c StatusChange) IsNote(prev OrderStatus) bool {
	switch {
	case c.Status != prev:
		return false
	case c.Status == StatusQueued:
		return strings.HasPrefix(c.Reason, ReasonAmended+":")
	case c.Status == StatusCompleted:
		return strings.HasPrefix(c.Reason, ReasonReversed+" ")
	}
	return false
}

// Note appends to o's history an entry that repeats its status with
// reason (see IsNote) and sets UpdatedAt.
func (o *Order) Note(at Time, reason string) {
	o.StatusHistory = append(o.StatusHistory, StatusChange{Status: o.Status, At: at, Reason: reason})
	o.UpdatedAt = at
}

// Reversed reports whether o's history records its reversal.
func (o *Order) Reversed() bool {
	for i := 1; i < len(o.StatusHistory); i++ {
		if c := o.StatusHistory[i]; c.Status == StatusCompleted && c.IsNote(o.StatusHistory[i-1].Status) {
			return true
		}
	}
	return false
}
