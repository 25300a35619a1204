// Package trading holds the flows that move money: deposits, withdrawals,
// order placement and execution. Each business operation is ONE store
// transaction built from the DAOs' write builders: all of its records are
// written, or none. Balances never go negative because every debit carries a
// store condition (available >= amount), not because of a read before the
// write.
package trading

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/ids"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/store"
)

// Config holds the trading rules.
type Config struct {
	// DepositDailyLimit and WithdrawDailyLimit cap, in USD, a user's
	// deposits and withdrawals per UTC day, all currencies together, each
	// counted at its exact USD value at Rates (zero: no limit).
	DepositDailyLimit  decimal.Decimal
	WithdrawDailyLimit decimal.Decimal
	// FeeRate is the fee charged on an order's notional (0.001 = 0.1%).
	FeeRate decimal.Decimal
	// Rates are the reference USD values of the currencies, stored as the
	// exchange rates of the currencies that have none (SeedRates). Nil:
	// pricing.DefaultFXRates(). The flows use the stored rates.
	Rates pricing.FXRates
	// FXSpread is the fraction a conversion keeps of its mid rate's value
	// (0.002 = 0.2%: the credit is the mid-rate value times 0.998); 0..<1.
	// An order in another currency settles at the rate moved by it against
	// the order (orderRate).
	FXSpread decimal.Decimal
	// FXMaxAge bounds the age of a rate that moves money: a conversion, an
	// order in another currency or a daily limit's USD value at an older
	// rate is refused (fx_rate_stale, HTTP 503). 0: no bound.
	FXMaxAge time.Duration
}

// DefaultConfig is the documented defaults (docs/api.md): 10,000 USD of
// deposits and 5,000 USD of withdrawals per day, every currency counted at
// its USD value, no fee, the reference FX rates.
func DefaultConfig() Config {
	return Config{DepositDailyLimit: decimal.FromInt(10_000), WithdrawDailyLimit: decimal.FromInt(5_000),
		Rates: pricing.DefaultFXRates()}
}

// Service runs the trading flows over the DAOs.
type Service struct {
	d   *dao.DAOs
	cfg Config
	now func() time.Time
	ids *ids.Generator
	log *slog.Logger

	notifier Notifier
	reads    *dao.DAOs
	active   activeDays
}

// Options are a Service's optional settings; the zero value is the defaults.
type Options struct {
	Now      func() time.Time // the clock; time.Now when nil
	Logger   *slog.Logger     // slog.Default() when nil
	Notifier Notifier         // where events go (the live stream); none when nil
	// Reads are the DAOs of the services' display reads (GET /balance,
	// /portfolio, /orders/{id}): DAOs over a read-through cache (package
	// cache) writing through the same store; the service's own DAOs when nil.
	// The service itself never reads through them.
	Reads *dao.DAOs
}

// NewDAOs returns the DAOs over s with tables t that index open orders by
// the trading layer's trigger rules: the DAOs a Service writes through.
func NewDAOs(s store.Store, t dao.Tables) *dao.DAOs { return dao.NewIndexed(s, t, indexKeys) }

// New returns a Service over d, which NewDAOs builds (it panics when d's
// order DAO indexes no orders: trigger orders would never fire).
func New(d *dao.DAOs, cfg Config, opts Options) *Service {
	if !d.Orders.Indexed() {
		panic("trading.New: the DAOs index no orders (build them with trading.NewDAOs)")
	}
	if cfg.Rates == nil {
		cfg.Rates = pricing.DefaultFXRates()
	}
	s := &Service{d: d, cfg: cfg, now: opts.Now, log: opts.Logger, notifier: opts.Notifier, reads: opts.Reads}
	if s.reads == nil {
		s.reads = d
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ids = ids.NewGenerator(s.now, nil)
	return s
}

// DAOs returns the DAOs the service writes through.
func (s *Service) DAOs() *dao.DAOs { return s.d }

// ReadDAOs returns the DAOs of display reads (Options.Reads): answers that
// decide nothing.
func (s *Service) ReadDAOs() *dao.DAOs { return s.reads }

// Now returns the service clock's time.
func (s *Service) Now() time.Time { return s.now() }

// NewID returns a new sortable id.
func (s *Service) NewID() string { return s.ids.New() }

// Idem makes an operation idempotent: the first response is stored under Key
// in the operation's own transaction; a request with the same key and the
// same ReqHash gets that response again (Replay), with another body a 409.
type Idem struct {
	Key     store.Key
	ReqHash string
	// Render returns the HTTP status and body of the operation's result; it
	// runs before the commit so the response is stored atomically with it.
	Render func(result any) (status int, body []byte, err error)
}

// IdemRequest is a request that carries an Idempotency-Key: Key is the
// client's key, Hash identifies the request (HashRequest of what it asks),
// Render returns the HTTP status and body of its result.
type IdemRequest struct {
	Key    string
	Hash   string
	Render func(result any) (status int, body []byte, err error)
}

// Idem returns the Idem of req for username's operation scope: its record
// is kept with username's items (username "" for an unauthenticated
// request: with the operation's), under the operation and the client's
// key, so that one key used for two operations names two records. Nil when
// req is nil (a request without a key).
func (s *Service) Idem(username, scope string, req *IdemRequest) *Idem {
	if req == nil {
		return nil
	}
	return &Idem{Key: s.d.Tables.IdemKey(username, scope, scope+"#"+req.Key), ReqHash: req.Hash, Render: req.Render}
}

// Replay is a response stored by an earlier request with the same key.
type Replay = dao.IdemRecord

// HashRequest returns the digest that identifies a request body.
func HashRequest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrIdemMismatch is returned when an idempotency key is reused with another body.
var ErrIdemMismatch = apperr.New(apperr.Conflict, "Idempotency-Key reused with a different request")

// Commit runs the writes of tx as one transaction, plus the idempotency
// record of idem (when not nil) holding the rendered result. On a failed
// condition it returns the stored response when the key was used before
// (replay), or the Err of the first of refusals whose write failed (else the
// store's error).
func (s *Service) Commit(ctx context.Context, tx *dao.Tx, idem *Idem, result any, refusals ...dao.Refusal) (*Replay, error) {
	rep, refused, err := s.commit(ctx, tx, idem, result)
	if refused {
		if e := tx.Refused(err, refusals...); e != nil {
			return nil, e
		}
	}
	return rep, err
}

// commit is Commit for callers that interpret the failed writes themselves
// (tx.Failed): refused is true when a condition of tx's writes failed.
func (s *Service) commit(ctx context.Context, tx *dao.Tx, idem *Idem, result any) (rep *Replay, refused bool, err error) {
	if idem != nil {
		status, body, err := idem.Render(result)
		if err != nil {
			return nil, false, fmt.Errorf("render idempotent response: %w", err)
		}
		tx.Add(dao.RoleIdem, s.d.Idem.Write(idem.Key, dao.IdemRecord{ReqHash: idem.ReqHash, Status: status, Body: body}, s.now()))
	}
	err = s.d.Transact(ctx, tx.Writes())
	if err == nil {
		return nil, false, nil
	}
	r, ok := tx.Failed(err, dao.RoleIdem)
	switch {
	case !ok:
		return nil, false, err
	case r == dao.RoleIdem:
		rep, err := s.Replay(ctx, idem)
		return rep, false, err
	}
	return nil, true, err
}

// replayOf interprets the idempotency record rec read with the operation's
// other reads (nil when absent): the stored response, ErrIdemMismatch, or nil.
func (s *Service) replayOf(idem *Idem, rec *Replay) (*Replay, error) {
	if idem == nil || rec == nil {
		return nil, nil
	}
	if rec.ReqHash != idem.ReqHash {
		return nil, ErrIdemMismatch
	}
	return rec, nil
}

// Replay returns the response stored for idem, ErrIdemMismatch when the key
// was used with another request, or (nil, nil) when nothing is stored.
func (s *Service) Replay(ctx context.Context, idem *Idem) (*Replay, error) {
	if idem == nil {
		return nil, nil
	}
	rec, err := s.d.Idem.Get(ctx, idem.Key)
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.ReqHash != idem.ReqHash {
		return nil, ErrIdemMismatch
	}
	return rec, nil
}
