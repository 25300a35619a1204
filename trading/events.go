package trading

import (
	"sync"

	"github.com/orderprocessor/orderprocessor/entity"
)

// Event kinds published after a commit.
const (
	EventOrder   = "order"   // an order was placed or changed status
	EventBalance = "balance" // a user's cash or holdings changed
)

// Event is a change a user may want to see live. It is published after its
// transaction committed; delivery is best effort (the store is the truth).
type Event struct {
	Kind     string
	Username string
	Order    *entity.Order // EventOrder
	Currency string        // EventBalance
	AssetID  string        // EventBalance (holding) or EventOrder
}

// Notifier receives events. Publish must not block, and must not keep
// e.Order, which is the caller's: it copies what it keeps.
type Notifier interface {
	Publish(Event)
}

func (s *Service) publish(e Event) {
	if s.notifier != nil {
		s.notifier.Publish(e)
	}
}

func (s *Service) notifyOrder(o *entity.Order) {
	if o == nil {
		return
	}
	s.publish(Event{Kind: EventOrder, Username: o.Username, Order: o, AssetID: o.AssetID})
	s.publish(Event{Kind: EventBalance, Username: o.Username, Currency: string(o.Currency), AssetID: o.AssetID})
}

// pending gathers the orders whose events wait for a log sync: the trigger
// engine commits executions under store.DeferSync and publishes their events
// after the sync that makes them durable (see executeAll). It is safe for
// concurrent use.
type pending struct {
	mu     sync.Mutex
	orders []*entity.Order
}

// emit publishes o's events now when ev is nil, else adds o to ev. A nil o
// does nothing.
func (s *Service) emit(ev *pending, o *entity.Order) {
	switch {
	case o == nil:
	case ev == nil:
		s.notifyOrder(o)
	default:
		ev.mu.Lock()
		ev.orders = append(ev.orders, o)
		ev.mu.Unlock()
	}
}
