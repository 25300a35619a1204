package trading

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// The trigger engine. Every price change of an asset finds the resting orders
// it makes executable with range reads of the trigger index (never a scan),
// and executes each at the new price in its own transaction. The transition
// out of queued is a conditional write, so an order executes at most once
// even when several engines (replicas) see the same price, and a cancel
// racing a trigger has exactly one winner.
//
// A price change that crosses many orders (a cascade) reads them a page at a
// time and commits a page's executions under store.DeferSync, then syncs the
// log once for the page: one sync per page instead of one per order. The
// sync of a page runs while the next page executes; a page's executions are
// counted, and their events published, only after the sync that makes them
// durable. A failed sync reports an error and publishes nothing of its page.

// triggerPage is how many resting orders one index read returns, and so how
// many executions one log sync covers at most.
const triggerPage = 200

// triggerWorkers bounds the executions running at once for one price change.
const triggerWorkers = 16

// OnPrice executes every resting order of assetID that price triggers, and
// raises the high-water marks of trailing stops below it. It returns how
// many orders it executed (or ended as failed), each durable by then. An
// inactive asset's resting orders are cancelled instead (see
// CancelAssetOrders): OnPrice reads the asset first and again before every
// further page of executions.
func (s *Service) OnPrice(ctx context.Context, assetID string, price decimal.Decimal) (int, error) {
	if !price.IsPositive() {
		return 0, nil
	}
	if ok, err := s.tradable(ctx, assetID); !ok || err != nil {
		return 0, err
	}
	if err := s.raiseTrailing(ctx, assetID, price); err != nil {
		return 0, err
	}
	sp := dao.SortablePrice(price)
	n := 0
	for _, q := range []struct {
		dir string
		sk  store.SortCond
	}{
		{dirLE, store.SortCond{Op: store.SortGe, Value: sp}},       // level >= price
		{dirGE, store.SortCond{Op: store.SortLt, Value: sp + "$"}}, // level <= price ('$' sorts after '#')
	} {
		k, stop, err := s.triggerPartition(ctx, assetID, triggerPK(assetID, q.dir), q.sk, price, n > 0)
		n += k
		if err != nil || stop {
			return n, err
		}
	}
	return n, nil
}

// triggerPartition executes the orders of one trigger partition in range,
// a page at a time: the next page is read, and the previous page's sync
// runs, while a page executes; it returns after the last page's sync.
// Before every further page, and before the first one when recheck is set
// (orders executed since the caller read the asset), it reads the asset
// again: when the asset is no longer active, its resting orders are
// cancelled instead and stop is true.
func (s *Service) triggerPartition(ctx context.Context, assetID, pk string, sk store.SortCond, price decimal.Decimal, recheck bool) (total int, stop bool, err error) {
	var syncing *flight // the previous page's sync
	settle := func() error {
		n, err := syncing.wait()
		total += n
		syncing = nil
		return err
	}
	defer func() {
		// Every committed execution is synced before the partition returns.
		if serr := settle(); err == nil {
			err = serr
		}
	}()
	reading := s.readPage(ctx, pk, sk, "")
	for first := true; ; first = false {
		p := <-reading
		if p.err != nil {
			return total, false, p.err
		}
		if p.next != "" {
			reading = s.readPage(ctx, pk, sk, p.next)
		}
		if !first || recheck {
			ok, err := s.tradable(ctx, assetID)
			if !ok || err != nil {
				return total, true, err
			}
		}
		f, err := s.executeAll(ctx, p.orders, price)
		serr := settle()
		syncing = f
		switch {
		case serr != nil:
			return total, false, serr
		case err != nil:
			return total, false, err
		case p.next == "":
			return total, false, nil
		}
	}
}

// page is a page of resting orders read from the trigger index, with the
// cursor of the next one ("" after the last).
type page struct {
	orders []*entity.Order
	next   string
	err    error
}

// readPage starts reading the page of partition pk in range sk at cursor
// and returns where it will be delivered.
func (s *Service) readPage(ctx context.Context, pk string, sk store.SortCond, cursor string) <-chan page {
	c := make(chan page, 1)
	go func() {
		orders, next, err := s.d.Orders.OpenIn(ctx, dao.IndexOpenOrders, pk, sk, triggerPage, cursor)
		c <- page{orders, next, err}
	}()
	return c
}

// executeAll executes the orders that price triggers, at most
// triggerWorkers at once, each in its own transaction under
// store.DeferSync, and returns the sync of those transactions, started and
// in flight, with their count and events. The error is the first of the
// executions' (the others still ran, and the flight syncs them).
func (s *Service) executeAll(ctx context.Context, orders []*entity.Order, price decimal.Decimal) (*flight, error) {
	// One user's orders that touch the same holding (a sale with anything
	// else, an OCO pair) run one after another in index order, so that the
	// outcome does not depend on goroutine scheduling; buys of one user
	// commute and run concurrently, and so do different users.
	var groups [][]*entity.Order
	byUser := map[string]int{}
	sells := map[string]bool{}
	for _, o := range orders {
		if !o.ShouldTrigger(price) {
			continue // the index read is a superset only at equal keys
		}
		if o.Side() == entity.Sell || o.OCOWith != "" {
			sells[o.Username] = true
		}
	}
	for _, o := range orders {
		if !o.ShouldTrigger(price) {
			continue
		}
		if !sells[o.Username] {
			groups = append(groups, []*entity.Order{o})
			continue
		}
		i, ok := byUser[o.Username]
		if !ok {
			i = len(groups)
			byUser[o.Username] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], o)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	deferred := store.DeferSync(ctx)
	ev := &pending{}
	n, err := fanOut(len(groups), func(i int) (int, error) {
		var (
			count int
			first error
		)
		for _, o := range groups[i] {
			ok, err := s.execute(deferred, ev, o, price)
			if ok {
				count++
			}
			if err != nil && first == nil {
				first = err
			}
		}
		return count, first
	})
	return s.syncThenPublish(ctx, n, ev), err
}

// flight is a log sync in flight: the sync that makes n executions
// committed under store.DeferSync durable, after which their events are
// published.
type flight struct {
	done chan struct{}
	n    int
	err  error
}

// syncThenPublish starts the sync of the n executions whose events ev holds
// and returns it in flight. After a successful sync it publishes the events;
// after a failed one it publishes nothing and its wait returns the error.
func (s *Service) syncThenPublish(ctx context.Context, n int, ev *pending) *flight {
	f := &flight{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		// Synced even when ctx is done: the executions are committed, and
		// visible, already.
		if err := s.d.Sync(context.WithoutCancel(ctx)); err != nil {
			f.err = fmt.Errorf("sync %d executions: %w", n, err)
			return
		}
		f.n = n
		for _, o := range ev.orders {
			s.notifyOrder(o)
		}
	}()
	return f
}

// wait waits for the sync and returns how many executions it made durable
// (none when it failed) and its error. A nil flight is no sync: 0, nil.
func (f *flight) wait() (int, error) {
	if f == nil {
		return 0, nil
	}
	<-f.done
	return f.n, f.err
}

// fanOut calls f(i) for every i in [0, n) on at most triggerWorkers
// goroutines, each calling f for the next i until none is left, and returns
// the sum of the counts the calls return and the first error one returns.
// (A goroutine per call would grow a fresh stack for every execution.)
func fanOut(n int, f func(i int) (int, error)) (int, error) {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		count int
		first error
		wg    sync.WaitGroup
	)
	for range min(n, triggerWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c, err := f(i)
				mu.Lock()
				count += c
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return count, first
}

// Execute fills the resting order o (as read) at price on behalf of the
// engine: queued -> triggered -> processing -> completed, consuming its hold,
// cancelling its OCO partner. It reports false, without error, when another
// actor moved the order first (executed, cancelled or expired it), or
// amended it so that price no longer triggers it.
func (s *Service) Execute(ctx context.Context, o *entity.Order, price decimal.Decimal) (bool, error) {
	return s.execute(ctx, nil, o, price)
}

// execute is Execute with the events of the orders it changes going to ev
// (nil: published after each commit).
func (s *Service) execute(ctx context.Context, ev *pending, o *entity.Order, price decimal.Decimal) (bool, error) {
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		ok, err := s.executeOnce(ctx, ev, o, price)
		if !errors.Is(err, errRetry) {
			return ok, err
		}
		cur, err := s.d.Orders.Get(ctx, o.Username, o.OrderID)
		if err != nil {
			return false, err
		}
		if cur.Status != entity.StatusQueued || !cur.ShouldTrigger(price) {
			return false, nil // ended, or amended out of reach of price
		}
		o = cur
	}
	return false, apperr.New(apperr.Unavailable, "order %s: too much contention", o.OrderID)
}

func (s *Service) executeOnce(ctx context.Context, ev *pending, orig *entity.Order, price decimal.Decimal) (bool, error) {
	if orig.Status != entity.StatusQueued {
		return false, nil
	}
	now := s.now()
	at := entity.At(now)
	if orig.PastExpiry(now) && orig.OCOWith == "" {
		// Past its expiry, not yet swept: it expires, it never fills late.
		return false, s.expire(ctx, ev, orig)
	}
	o := cloneOrder(orig)
	read := o.Version
	b := s.d.Batch()
	var holdingSlot dao.Slot[*dao.HoldingRecord]
	if o.Side() == entity.Sell {
		holdingSlot = b.Holding(o.Username, o.AssetID)
	}
	var partnerSlot dao.Slot[*entity.Order]
	if o.OCOWith != "" {
		partnerSlot = b.Order(o.Username, o.OCOWith)
	}
	var rateSlot dao.Slot[*dao.FXRate]
	if o.Currency != entity.USD {
		rateSlot = b.Rate(o.Currency)
	}
	if err := b.Read(ctx); err != nil {
		return false, err
	}
	holding, _, err := holdingSlot.Get()
	if err != nil {
		return false, err
	}
	partner, _, err := partnerSlot.Get()
	if err != nil {
		return false, err
	}
	if partner != nil && !partner.Status.IsOpen() {
		partner = nil
	}
	// An OCO pair ends when its first leg expires (a sweep may not have
	// come yet): that leg expires and the other is cancelled with it,
	// whichever of the two the engine meets first.
	switch {
	case partner != nil && partner.PastExpiry(now) && (!orig.PastExpiry(now) || partner.ExpiresBefore(orig)):
		return false, s.expire(ctx, ev, partner)
	case orig.PastExpiry(now):
		return false, s.expire(ctx, ev, orig)
	}
	var fx decimal.Decimal
	if o.Currency != entity.USD {
		r, found, err := rateSlot.Get()
		if err != nil {
			return false, err
		}
		if fx, err = s.fresh(o.Currency, r, found, now); err != nil {
			// No fresh rate to settle at: the order stays queued, and the
			// next price event or sweep tries again.
			s.log.Warn("order not executed: no fresh exchange rate", "order_id", o.OrderID, "currency", o.Currency, "err", err)
			return false, nil
		}
		if fx, err = s.orderRate(fx, o.Side()); err != nil {
			return false, err
		}
	}
	if holding != nil && !holding.Current {
		return false, s.upgrade(ctx, o.Username, o.AssetID)
	}
	reason := fmt.Sprintf("%s at %s", o.OrderType, entity.FormatPrice(price))
	for _, st := range []entity.OrderStatus{entity.StatusTriggered, entity.StatusProcessing} {
		if err := o.Transition(st, entity.ActorEngine, at, reason); err != nil {
			return false, err
		}
		reason = ""
	}
	var tx dao.Tx
	if err := s.fillWrites(&tx, o, price, holding, partner != nil, fx, dao.Count{}, now); err != nil {
		// The order cannot execute (too small at this price, holding gone):
		// it fails, and its hold is released.
		s.log.Warn("order failed at trigger", "order_id", o.OrderID, "err", err)
		if _, ferr := s.end(ctx, ev, orig, entity.ActorEngine, apperr.MessageOf(err), entity.StatusTriggered, entity.StatusFailed); ferr != nil && !apperr.Is(ferr, apperr.Conflict) {
			return false, ferr
		}
		return true, nil
	}
	if err := o.Transition(entity.StatusCompleted, entity.ActorEngine, at, ""); err != nil {
		return false, err
	}
	o.Version = read + 1
	if err := s.endWrites(&tx, o, read, entity.StatusQueued, partner, "executed", now); err != nil {
		return false, err
	}
	err = s.d.Transact(ctx, tx.Writes())
	if err == nil {
		s.emit(ev, o)
		s.emit(ev, partner)
		return true, nil
	}
	r, refused := tx.Failed(err, dao.RoleBalance, dao.RoleHolding, dao.RoleLedger, dao.RoleOrder, dao.RolePartner)
	switch {
	case !refused:
		return false, fmt.Errorf("execute order %s: %w", o.OrderID, err)
	case r == dao.RoleOrder:
		return false, nil // another engine or a cancel moved it first
	case r == dao.RoleHolding && o.Side() == entity.Buy:
		// Only a holding written before holdings kept their totals refuses a buy.
		return false, s.upgrade(ctx, o.Username, o.AssetID)
	case r == dao.RoleBalance && o.Side() == entity.Buy && o.TotalAmount.GreaterThan(orig.HeldAmount):
		// In another currency, the fill costs more at the rate of execution
		// than the hold covers and the available balance lacks the
		// difference: the order fails and its hold is released.
		s.log.Warn("order failed at trigger: the hold does not cover the fill at the current exchange rate", "order_id", o.OrderID,
			"currency", o.Currency, "cost", o.TotalAmount.String(), "held", orig.HeldAmount.String())
		msg := fmt.Sprintf("insufficient funds: the fill costs %s %s at the exchange rate of execution, the hold %s",
			o.Currency.Format(o.TotalAmount), o.Currency, o.Currency.Format(orig.HeldAmount))
		if _, ferr := s.end(ctx, ev, orig, entity.ActorEngine, msg, entity.StatusTriggered, entity.StatusFailed); ferr != nil && !apperr.Is(ferr, apperr.Conflict) {
			return false, ferr
		}
		return true, nil
	default:
		return false, errRetry // the cash, the holding or the partner changed
	}
}

// expire ends o, found past its expiry, as expired (with its OCO partner,
// cancelled); an order that another actor moved or amended first is left
// to them.
func (s *Service) expire(ctx context.Context, ev *pending, o *entity.Order) error {
	if _, err := s.end(ctx, ev, o, entity.ActorEngine, "expired", entity.StatusExpired); err != nil && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	return nil
}

// raiseTrailing raises the high-water mark of every trailing stop of the
// asset whose mark is below price (moving its trigger level up with it), at
// most triggerWorkers at once. The updates are committed under
// store.DeferSync and synced once at the end.
func (s *Service) raiseTrailing(ctx context.Context, assetID string, price decimal.Decimal) error {
	deferred := store.DeferSync(ctx)
	raised := 0
	err := func() error {
		cursor := ""
		for {
			orders, next, err := s.d.Orders.OpenIn(ctx, dao.IndexTrailing, assetID,
				store.SortCond{Op: store.SortLt, Value: dao.SortablePrice(price)}, triggerPage, cursor)
			if err != nil {
				return err
			}
			n, err := fanOut(len(orders), func(i int) (int, error) {
				o := orders[i]
				if !o.RaiseHighWaterMark(price) {
					return 0, nil
				}
				switch err := s.d.Orders.Update(deferred, o, s.now()); {
				case apperr.Is(err, apperr.Conflict):
					return 0, nil // executed, cancelled or raised by another engine first
				case err != nil:
					return 0, err
				}
				return 1, nil
			})
			raised += n
			if err != nil || next == "" {
				return err
			}
			cursor = next
		}
	}()
	if raised > 0 {
		if serr := s.d.Sync(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = fmt.Errorf("sync %d raised trailing stops: %w", raised, serr)
		}
	}
	return err
}

// ExpireDue expires every resting order whose expiry is at or before now,
// releasing its hold. lookbackDays bounds how many past expiry days it reads
// (the sweep runs often; a restart after a long stop passes a larger value).
func (s *Service) ExpireDue(ctx context.Context, now time.Time, lookbackDays int) (int, error) {
	return s.expireDue(ctx, now, lookbackDays, nil)
}

// expireDue is ExpireDue for the orders of the assets owns accepts (nil:
// every asset). It reads each day's due orders a page at a time, after the
// last one read, so the orders it leaves do not hide the later ones.
func (s *Service) expireDue(ctx context.Context, now time.Time, lookbackDays int, owns func(assetID string) bool) (int, error) {
	n := 0
	limit := entity.At(now).String() + "$"
	for d := lookbackDays; d >= 0; d-- {
		day := now.UTC().AddDate(0, 0, -d).Format("2006-01-02")
		cursor := ""
		for {
			orders, next, err := s.d.Orders.OpenIn(ctx, dao.IndexExpiry, "EXP#"+day,
				store.SortCond{Op: store.SortLt, Value: limit}, triggerPage, cursor)
			if err != nil {
				return n, err
			}
			for _, o := range orders {
				if !o.PastExpiry(now) || (owns != nil && !owns(o.AssetID)) {
					continue
				}
				_, err := s.end(ctx, nil, o, entity.ActorEngine, "expired", entity.StatusExpired)
				switch {
				case err == nil:
					n++
				case apperr.Is(err, apperr.Conflict): // someone else ended it
				default:
					return n, err
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return n, nil
}

// Engine runs the trigger engine in the background: price changes are
// queued (the latest price per asset wins) and evaluated by one worker;
// expiry runs on a schedule; every active asset is re-evaluated at its
// current price at start and periodically, so a missed event loses nothing,
// and the resting orders of inactive assets are cancelled at the same times.
type Engine struct {
	s        *Service
	prices   func(ctx context.Context) (map[string]decimal.Decimal, error)
	mu       sync.Mutex
	pending  map[string]decimal.Decimal
	wake     chan struct{}
	interval time.Duration
	log      *slog.Logger
	owns     func(assetID string) bool // the sweep's assets (nil: all)
}

// NewEngine returns an engine over s; prices returns the current price of
// every active asset; interval is the period of the expiry sweep and of the
// full re-evaluation.
func NewEngine(s *Service, prices func(ctx context.Context) (map[string]decimal.Decimal, error), interval time.Duration) *Engine {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &Engine{s: s, prices: prices, pending: map[string]decimal.Decimal{}, wake: make(chan struct{}, 1),
		interval: interval, log: s.log}
}

// Shard makes e's sweeps handle only the assets owns accepts (nil, the
// default: every asset): their due orders expire, their resting orders are
// cancelled when they are inactive, and their current prices are
// re-evaluated. Replicas that share the assets between them so sweep each
// asset once in all. Price changes told through PriceChanged are evaluated
// whatever their asset. Call it before Run.
func (e *Engine) Shard(owns func(assetID string) bool) { e.owns = owns }

// PriceChanged queues a price change for evaluation. It never blocks.
func (e *Engine) PriceChanged(assetID string, price decimal.Decimal) {
	e.queue(assetID, price, true)
}

// queue queues price for evaluation; a price already queued for the asset
// is replaced only when replace is set. The sweep queues the prices it read
// without replace: a change queued since its read is newer.
func (e *Engine) queue(assetID string, price decimal.Decimal, replace bool) {
	e.mu.Lock()
	if _, queued := e.pending[assetID]; replace || !queued {
		e.pending[assetID] = price
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run evaluates queued price changes and runs the sweeps until ctx is done.
func (e *Engine) Run(ctx context.Context) {
	e.sweep(ctx, 120)
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
			e.drain(ctx)
		case <-t.C:
			e.sweep(ctx, 1)
		}
	}
}

func (e *Engine) drain(ctx context.Context) {
	for {
		e.mu.Lock()
		batch := e.pending
		e.pending = map[string]decimal.Decimal{}
		e.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for id, p := range batch {
			if _, err := e.s.OnPrice(ctx, id, p); err != nil && ctx.Err() == nil {
				e.log.Warn("trigger engine", "asset_id", id, "err", err)
			}
		}
	}
}

// Sweep runs one sweep at once, as Run does every interval, and evaluates
// the prices it queued before it returns.
func (e *Engine) Sweep(ctx context.Context) { e.sweep(ctx, 1) }

// sweep expires due orders, cancels the resting orders of inactive assets
// and re-evaluates every active asset at its current price, for the assets
// of e's shard.
func (e *Engine) sweep(ctx context.Context, lookbackDays int) {
	if _, err := e.s.expireDue(ctx, e.s.now(), lookbackDays, e.owns); err != nil && ctx.Err() == nil {
		e.log.Warn("expiry sweep", "err", err)
	}
	if n, err := e.s.cancelInactive(ctx, e.owns); err != nil && ctx.Err() == nil {
		e.log.Warn("inactive asset sweep", "cancelled", n, "err", err)
	} else if n > 0 {
		e.log.Info("cancelled resting orders of inactive assets", "cancelled", n)
	}
	prices, err := e.prices(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("trigger sweep: read prices", "err", err)
		}
		return
	}
	for id, p := range prices {
		if e.owns == nil || e.owns(id) {
			e.queue(id, p, false)
		}
	}
	e.drain(ctx)
}
