package trading_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
)

// recorder is a Notifier that keeps the order id and status of every order
// event it is given.
type recorder struct {
	mu     sync.Mutex
	orders []orderEvent
	// onOrder, when set, runs for every order event, in Publish.
	onOrder func(o *entity.Order)
}

func (r *recorder) Publish(e trading.Event) {
	if e.Kind != trading.EventOrder {
		return
	}
	if r.onOrder != nil {
		r.onOrder(e.Order)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.orders = append(r.orders, orderEvent{e.Order.OrderID, e.Order.Status})
}

// orderEvent is what recorder keeps of an order event.
type orderEvent struct {
	id     string
	status entity.OrderStatus
}

// completed returns how many completion events each order got.
func (r *recorder) completed() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[string]int{}
	for _, o := range r.orders {
		if o.status == entity.StatusCompleted {
			n[o.id]++
		}
	}
	return n
}

// cascade is a store with one asset (XYZ at 100) and users c000000...
// that each bought perUser units of XYZ and rest perUser stop-loss orders
// of one unit on them, their stops spread over 90.00-99.99: a tick to 80
// crosses them all.
type cascade struct {
	*env
	users, perUser int
	rec            *recorder
	orders         []orderRef // every stop, in placement order
}

// orderRef names an order.
type orderRef struct{ user, id string }

func cascadeUser(i int) string { return fmt.Sprintf("c%06d", i) }

// newCascade sets the cascade up through the trading service, its
// transactions committed under store.DeferSync by a few workers and synced
// once at the end.
func newCascade(tb testing.TB, users, perUser int) *cascade {
	tb.Helper()
	return newCascadeIn(newEnv(tb, "100", "1000"), users, perUser)
}

// newCascadeIn is newCascade in e.
func newCascadeIn(e *env, users, perUser int) *cascade {
	tb := e.t
	tb.Helper()
	c := &cascade{env: e, users: users, perUser: perUser, rec: &recorder{}}
	c.s = trading.New(c.d, trading.Config{}, trading.Options{Now: c.clock.Now, Notifier: c.rec})
	deferred := store.DeferSync(c.ctx)
	per := make([][]orderRef, users)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < users; i = int(next.Add(1) - 1) {
				orders, err := c.setUp(deferred, i)
				if err != nil {
					errs <- err
					return
				}
				per[i] = orders
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	if err := c.d.Sync(c.ctx); err != nil {
		tb.Fatal(err)
	}
	for _, o := range per {
		c.orders = append(c.orders, o...)
	}
	c.rec.orders = nil
	return c
}

// setUp registers user i, funds it, buys its units and places its stops.
func (c *cascade) setUp(ctx context.Context, i int) ([]orderRef, error) {
	name := cascadeUser(i)
	now := c.clock.Now()
	u := &entity.User{Username: name, Email: name + "@example.com", FirstName: "C", LastName: "D",
		Role: entity.RoleCustomer, IsActive: true, CreatedAt: entity.At(now), UpdatedAt: entity.At(now), Version: 1}
	if err := c.d.Users.Create(ctx, u, c.d.Balances.CreateWrite(name, entity.USD, now)); err != nil {
		return nil, err
	}
	cash := decimal100(c.perUser)
	if _, _, err := c.s.Deposit(ctx, name, entity.DepositRequest{Amount: &cash}, nil); err != nil {
		return nil, err
	}
	qty := dec(fmt.Sprint(c.perUser))
	if _, _, err := c.s.PlaceOrder(ctx, name, entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: &qty}, "", nil); err != nil {
		return nil, err
	}
	orders := make([]orderRef, c.perUser)
	for k := range orders {
		n := i*c.perUser + k
		stop := dec(fmt.Sprintf("%d.%02d", 90+n*7919%1000/100, n*7919%100))
		p, _, err := c.s.PlaceOrder(ctx, name, entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ",
			Quantity: decp("1"), StopPrice: &stop}, "", nil)
		if err != nil {
			return nil, fmt.Errorf("stop %s of %s: %w", stop, name, err)
		}
		orders[k] = orderRef{name, p.Order.OrderID}
	}
	return orders, nil
}

func decimal100(units int) decimal.Decimal { return dec(fmt.Sprint(100 * units)) }

// fall sets the price to 80 and runs the trigger engine once; it returns
// how many orders executed, when OnPrice started and how long it took.
func (c *cascade) fall() (int, time.Time, time.Duration) {
	c.t.Helper()
	if _, err := c.d.Assets.SetPrice(c.ctx, "XYZ", dec("80"), c.clock.Now()); err != nil {
		c.t.Fatal(err)
	}
	start := time.Now()
	n, err := c.s.OnPrice(c.ctx, "XYZ", dec("80"))
	took := time.Since(start)
	if err != nil {
		c.t.Fatal(err)
	}
	return n, start, took
}

// check asserts that every stop executed exactly once at 80: one
// completion in its history, one sale in its owner's ledger, one
// completion event; every user holds 80 per unit sold and nothing of XYZ;
// nothing is left to trigger; and every ledger invariant holds.
func (c *cascade) check(executed int) {
	c.t.Helper()
	if want := c.users * c.perUser; executed != want {
		c.t.Fatalf("executed %d of %d", executed, want)
	}
	events := c.rec.completed()
	for _, placed := range c.orders {
		o := c.order(placed.user, placed.id)
		if o.Status != entity.StatusCompleted || statuses(o) != "pending>confirmed>queued>triggered>processing>completed" ||
			o.ExecutedPrice == nil || !o.ExecutedPrice.Equal(dec("80")) {
			c.t.Fatalf("order %s: %s at %v", o.OrderID, statuses(o), o.ExecutedPrice)
		}
		if events[o.OrderID] != 1 {
			c.t.Fatalf("order %s: %d completion events", o.OrderID, events[o.OrderID])
		}
	}
	for i := range c.users {
		name := cascadeUser(i)
		txs, err := c.d.Balances.AllTransactions(c.ctx, name)
		if err != nil {
			c.t.Fatal(err)
		}
		var sales []string
		for _, tx := range txs {
			if tx.TransactionType == entity.TxOrderSale {
				sales = append(sales, tx.ReferenceID)
			}
		}
		slices.Sort(sales)
		if len(sales) != c.perUser || len(slices.Compact(sales)) != c.perUser {
			c.t.Fatalf("%s: sales %v, want one for each of %d orders", name, sales, c.perUser)
		}
		c.cash(name, fmt.Sprint(80*c.perUser), "0")
		c.holding(name, "0", "0")
	}
	if n, err := c.s.OnPrice(c.ctx, "XYZ", dec("80")); err != nil || n != 0 {
		c.t.Fatalf("a second tick executed %d: %v", n, err)
	}
	c.verify()
}

// TestCascade: one tick crosses thousands of resting stop orders of many
// users (5,000 on the embedded engine, 1,000 under the race detector, 400
// on DynamoDB Local): each executes exactly once, its event is published
// once, and the balances are the sums of their ledgers.
func TestCascade(t *testing.T) {
	users, perUser := 1000, 5
	switch {
	case testenv.Engine() == "dynamodb":
		users, perUser = 100, 4
	case raceEnabled:
		users = 200
	}
	c := newCascade(t, users, perUser)
	n, _, took := c.fall()
	t.Logf("%d executions in %v", n, took)
	c.check(n)
}

// openEmbedded opens an embedded store in dir on fs, closed when the test
// ends.
func openEmbedded(t *testing.T, fs vfs.FS, dir string) *embedded.DB {
	t.Helper()
	db, err := embedded.Open(dir, dao.DefaultTables.Schemas(), embedded.Options{FS: fs, Logger: slog.New(slog.DiscardHandler),
		CacheSize: 8 << 20, MemTableSize: 4 << 20, LockStripes: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// The events of a cascade follow the syncs that make its executions
// durable: when an execution's event is published, a crash (the embedded
// store on Pebble's crashable in-memory file system, cut back to what was
// synced) keeps the execution. Checked at the first event of each of the
// three pages' worth of executions.
func TestCascadeEventsFollowSync(t *testing.T) {
	fs := vfs.NewCrashableMem()
	c := newCascadeIn(newEnvOn(t, openEmbedded(t, fs, "db"), dao.DefaultTables, "100", "1000"), 100, 5)
	type snapshot struct {
		order string
		fs    *vfs.MemFS
	}
	var (
		mu    sync.Mutex
		seen  int
		snaps []snapshot
	)
	c.rec.onOrder = func(o *entity.Order) {
		mu.Lock()
		defer mu.Unlock()
		if seen%200 == 0 {
			snaps = append(snaps, snapshot{o.OrderID, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})})
		}
		seen++
	}
	n, _, _ := c.fall()
	if len(snaps) != 3 {
		t.Fatalf("%d snapshots of %d events, want 3", len(snaps), seen)
	}
	for _, sn := range snaps {
		crashed := dao.New(openEmbedded(t, sn.fs, "db"), dao.DefaultTables)
		var user string
		for _, ref := range c.orders {
			if ref.id == sn.order {
				user = ref.user
			}
		}
		o, err := crashed.Orders.Get(c.ctx, user, sn.order)
		if err != nil || o.Status != entity.StatusCompleted {
			t.Fatalf("order %s after a crash at its event: %+v, %v; want completed", sn.order, o, err)
		}
	}
	c.check(n)
}

// The high-water marks a price change raises are durable when OnPrice
// returns: a crash right after keeps them (they are committed under
// store.DeferSync and synced once).
func TestTrailingRaiseDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e := newEnvOn(t, openEmbedded(t, fs, "db"), dao.DefaultTables, "100", "10000")
	e.buyHolding("3")
	var ids []string
	for range 3 {
		ids = append(ids, e.place("alice", entity.OrderCreate{OrderType: entity.TrailingStop, AssetID: "XYZ", Quantity: decp("1"), TrailPercent: decp("10")}).OrderID)
	}
	if n := e.tick("150"); n != 0 {
		t.Fatalf("a rise executed %d", n)
	}
	crashed := dao.New(openEmbedded(t, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}), "db"), dao.DefaultTables)
	for _, id := range ids {
		o, err := crashed.Orders.Get(e.ctx, "alice", id)
		if err != nil || o.HighWaterMark == nil || !o.HighWaterMark.Equal(dec("150")) {
			t.Fatalf("order %s after a crash: %+v, %v; want its mark at 150", id, o, err)
		}
	}
}

// diskFull is an errorfs injector: once armed, every write and sync of the
// write-ahead log fails with ENOSPC, as on a full disk.
type diskFull struct{ armed atomic.Bool }

func (d *diskFull) String() string { return "disk full on *.log" }

func (d *diskFull) MaybeError(op errorfs.Op) error {
	if !d.armed.Load() || !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		return fmt.Errorf("injected: %w", syscall.ENOSPC)
	}
	return nil
}

// A cascade whose sync fails reports the failure, counts no execution and
// publishes no event: its executions are committed but may not be durable.
func TestCascadeSyncFailure(t *testing.T) {
	inj := &diskFull{}
	db := openEmbedded(t, errorfs.Wrap(vfs.Default, inj), t.TempDir())
	c := newCascadeIn(newEnvOn(t, db, dao.DefaultTables, "100", "1000"), 20, 2)
	if _, err := c.d.Assets.SetPrice(c.ctx, "XYZ", dec("80"), c.clock.Now()); err != nil {
		t.Fatal(err)
	}
	inj.armed.Store(true)
	n, err := c.s.OnPrice(c.ctx, "XYZ", dec("80"))
	if !errors.Is(err, store.ErrUnavailable) || n != 0 {
		t.Fatalf("OnPrice = %d, %v; want 0 and the store's failure", n, err)
	}
	if got := len(c.rec.completed()); got != 0 {
		t.Fatalf("%d orders published as completed, want none", got)
	}
}

// marketFlow places market buys of XYZ from callers users of their own
// (m00...), each caller one order after another, until stop is called;
// stop returns the start and latency of every order.
func marketFlow(tb testing.TB, e *env, callers int) (stop func() []timed) {
	tb.Helper()
	for i := range callers {
		e.user(fmt.Sprintf("m%02d", i), "1000000")
	}
	var (
		done = make(chan struct{})
		mu   sync.Mutex
		all  []timed
		wg   sync.WaitGroup
	)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("m%02d", i)
			for {
				select {
				case <-done:
					return
				default:
				}
				start := time.Now()
				if _, _, err := e.s.PlaceOrder(e.ctx, name, entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("0.001")}, "", nil); err != nil {
					tb.Error(err)
					return
				}
				mu.Lock()
				all = append(all, timed{start, time.Since(start)})
				mu.Unlock()
			}
		}()
	}
	return func() []timed {
		close(done)
		wg.Wait()
		return all
	}
}

// window returns the latencies, sorted, of the operations of all that
// started in [from, to).
func window(all []timed, from, to time.Time) []time.Duration {
	var lat []time.Duration
	for _, o := range all {
		if !o.start.Before(from) && o.start.Before(to) {
			lat = append(lat, o.took)
		}
	}
	slices.Sort(lat)
	return lat
}

// timed is an operation's start and duration.
type timed struct {
	start time.Time
	took  time.Duration
}

// heapObjects returns the bytes of live and unswept heap objects
// (runtime/metrics: no stop of the world).
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapPeak samples heapObjects every 10 ms until stop is called, and
// returns the largest sample.
func heapPeak() (stop func() uint64) {
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			max = maxOf(max, heapObjects())
			select {
			case <-done:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

// cpuTime returns the CPU time the process has used (user and system).
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// BenchmarkTrigger100k measures one tick crossing 100,000 resting stop
// orders (10,000 users with 10 each) on the engine under test, while 4
// callers of their own place market buys of the same asset one after
// another: the tick's time, the market orders' latency during it (and
// their p99 in the 0.8 s before it, the machine's baseline), the live
// heap before and after it and its peak (live and garbage), and the
// process's CPU time per execution (the market orders' included). The
// set-up (~30 s) is not timed. Run it with -benchtime 1x. With
// CASCADE_CPUPROFILE=file, the tick alone is profiled into file (-cpuprofile
// would mostly profile the set-up).
func BenchmarkTrigger100k(b *testing.B) { benchCascade(b, 10_000, 10, 4) }

// BenchmarkTrigger10k is BenchmarkTrigger100k with 1,000 users.
func BenchmarkTrigger10k(b *testing.B) { benchCascade(b, 1_000, 10, 4) }

// startProfile starts a CPU profile into path ("": none) and returns the
// function that stops it.
func startProfile(b *testing.B, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCascade(b *testing.B, users, perUser, callers int) {
	for range b.N {
		b.StopTimer()
		c := newCascade(b, users, perUser)
		flow := marketFlow(b, c.env, callers)
		time.Sleep(time.Second) // the flow alone, for 0.8 s after its first orders
		runtime.GC()
		base := heapObjects()
		heap := heapPeak()
		b.StartTimer()
		stopProfile := startProfile(b, os.Getenv("CASCADE_CPUPROFILE"))
		cpu0 := cpuTime(b)
		n, start, took := c.fall()
		cpu := cpuTime(b) - cpu0
		stopProfile()
		b.StopTimer()
		peak := heap()
		runtime.GC()
		after := heapObjects()
		all := flow()
		before, during := window(all, start.Add(-800*time.Millisecond), start), window(all, start, start.Add(took))
		c.check(n)
		b.ReportMetric(float64(took.Milliseconds()), "ms/tick")
		b.ReportMetric(float64(n)/took.Seconds(), "executions/s")
		b.ReportMetric(float64(percentile(before, 0.99).Microseconds())/1000, "market-p99-before-ms")
		b.ReportMetric(float64(percentile(during, 0.5).Microseconds())/1000, "market-p50-ms")
		b.ReportMetric(float64(percentile(during, 0.99).Microseconds())/1000, "market-p99-ms")
		b.ReportMetric(float64(len(during))/took.Seconds(), "market-orders/s")
		b.ReportMetric(float64(base)/(1<<20), "heap-before-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MiB")
		b.ReportMetric(float64(after)/(1<<20), "heap-after-MiB")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/execution")
	}
}
