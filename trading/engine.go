package trading

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

// triggerPage is how many resting orders one index read returns.
const triggerPage = 200

// triggerWorkers bounds the executions running at once for one price change
// (concurrent transactions share fsyncs in the embedded store).
const triggerWorkers = 16

// OnPrice executes every resting order of assetID that price triggers, and
// raises the high-water marks of trailing stops below it. It returns how
// many orders it executed (or ended as failed). An inactive asset's resting
// orders are cancelled instead (see CancelAssetOrders): OnPrice reads the
// asset first and again before every further page of executions.
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
// a page at a time. Before every further page, and before the first one
// when recheck is set (orders executed since the caller read the asset), it
// reads the asset again: when the asset is no longer active, its resting
// orders are cancelled instead and stop is true.
func (s *Service) triggerPartition(ctx context.Context, assetID, pk string, sk store.SortCond, price decimal.Decimal, recheck bool) (total int, stop bool, err error) {
	cursor := ""
	for {
		if cursor != "" || recheck {
			ok, err := s.tradable(ctx, assetID)
			if !ok || err != nil {
				return total, true, err
			}
		}
		orders, next, err := s.d.Orders.OpenIn(ctx, dao.IndexOpenOrders, pk, sk, triggerPage, cursor)
		if err != nil {
			return total, false, err
		}
		n, err := s.executeAll(ctx, orders, price)
		total += n
		if err != nil {
			return total, false, err
		}
		if next == "" {
			return total, false, nil
		}
		cursor = next
	}
}

func (s *Service) executeAll(ctx context.Context, orders []*entity.Order, price decimal.Decimal) (int, error) {
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
	return fanOut(len(groups), func(i int) (int, error) {
		var (
			count int
			first error
		)
		for _, o := range groups[i] {
			ok, err := s.Execute(ctx, o, price)
			if ok {
				count++
			}
			if err != nil && first == nil {
				first = err
			}
		}
		return count, first
	})
}

// fanOut calls f(i) for every i in [0, n), at most triggerWorkers calls at
// once, and returns the sum of the counts the calls return and the first
// error one returns.
func fanOut(n int, f func(i int) (int, error)) (int, error) {
	var (
		mu    sync.Mutex
		count int
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, triggerWorkers)
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			count += c
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return count, first
}

// Execute fills the resting order o (as read) at price on behalf of the
// engine: queued -> triggered -> processing -> completed, consuming its hold,
// cancelling its OCO partner. It reports false, without error, when another
// actor moved the order first (executed, cancelled or expired it).
func (s *Service) Execute(ctx context.Context, o *entity.Order, price decimal.Decimal) (bool, error) {
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		ok, err := s.executeOnce(ctx, o, price)
		if !errors.Is(err, errRetry) {
			return ok, err
		}
		cur, err := s.d.Orders.Get(ctx, o.Username, o.OrderID)
		if err != nil {
			return false, err
		}
		if cur.Status != entity.StatusQueued {
			return false, nil
		}
		o = cur
	}
	return false, apperr.New(apperr.Unavailable, "order %s: too much contention", o.OrderID)
}

func (s *Service) executeOnce(ctx context.Context, orig *entity.Order, price decimal.Decimal) (bool, error) {
	if orig.Status != entity.StatusQueued {
		return false, nil
	}
	now := s.now()
	at := entity.At(now)
	if orig.ExpiresAt != nil && !orig.ExpiresAt.After(now) {
		// Past its expiry, not yet swept: it expires, it never fills late.
		if _, err := s.end(ctx, orig, entity.ActorEngine, "expired", entity.StatusExpired); err != nil && !apperr.Is(err, apperr.Conflict) {
			return false, err
		}
		return false, nil
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
	if err := s.fillWrites(&tx, o, price, holding, partner != nil, now); err != nil {
		// The order cannot execute (too small at this price, holding gone):
		// it fails, and its hold is released.
		s.log.Warn("order failed at trigger", "order_id", o.OrderID, "err", err)
		if _, ferr := s.end(ctx, orig, entity.ActorEngine, apperr.MessageOf(err), entity.StatusTriggered, entity.StatusFailed); ferr != nil && !apperr.Is(ferr, apperr.Conflict) {
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
	err = s.d.Store.Transact(ctx, tx.Writes())
	if err == nil {
		s.notifyOrder(o)
		if partner != nil {
			s.notifyOrder(partner)
		}
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
	default:
		return false, errRetry // the cash, the holding or the partner changed
	}
}

// raiseTrailing raises the high-water mark of every trailing stop of the
// asset whose mark is below price (moving its trigger level up with it).
func (s *Service) raiseTrailing(ctx context.Context, assetID string, price decimal.Decimal) error {
	cursor := ""
	for {
		orders, next, err := s.d.Orders.OpenIn(ctx, dao.IndexTrailing, assetID,
			store.SortCond{Op: store.SortLt, Value: dao.SortablePrice(price)}, triggerPage, cursor)
		if err != nil {
			return err
		}
		for _, o := range orders {
			if !o.RaiseHighWaterMark(price) {
				continue
			}
			if err := s.d.Orders.Update(ctx, o, s.now()); err != nil && !apperr.Is(err, apperr.Conflict) {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
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
				if o.ExpiresAt == nil || o.ExpiresAt.After(now) || (owns != nil && !owns(o.AssetID)) {
					continue
				}
				_, err := s.end(ctx, o, entity.ActorEngine, "expired", entity.StatusExpired)
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
