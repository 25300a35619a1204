package proxy

import (
	"fmt"
	"sync"
	"time"
)

// State is a circuit breaker's state.
type State int

// The breaker's states.
const (
	// Closed: requests flow; consecutive failures are counted.
	Closed State = iota
	// Open: requests are refused without calling the upstream until the
	// cool-down has passed.
	Open
	// HalfOpen: the cool-down has passed; one probe request is let through
	// and its outcome closes or re-opens the breaker.
	HalfOpen
)

// String returns "closed", "open" or "half_open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Outcome is what a request through the breaker came to.
type Outcome int

// Outcomes of a request.
const (
	// Success: the upstream answered with a status below 500 (a 4xx is the
	// client's problem, not the upstream's).
	Success Outcome = iota
	// Failure: a transport error, a timeout, or a 5xx from the upstream.
	Failure
	// Ignored: no verdict about the upstream (the client went away first).
	Ignored
)

// Defaults of BreakerConfig.
const (
	DefaultFailureThreshold = 5
	DefaultCoolDown         = 10 * time.Second
)

// BreakerConfig configures a Breaker. Zero fields take the defaults.
type BreakerConfig struct {
	// FailureThreshold consecutive failures open the breaker
	// (DefaultFailureThreshold when 0).
	FailureThreshold int
	// CoolDown is how long the breaker stays open before it lets one probe
	// through (DefaultCoolDown when 0).
	CoolDown time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// OnChange, when set, is called (outside the breaker's lock) after every
	// state change.
	OnChange func(from, to State)
}

// Breaker is a consecutive-failure circuit breaker, safe for concurrent
// use:
//
//	closed --FailureThreshold consecutive failures--> open
//	open --CoolDown passed, next request becomes the probe--> half-open
//	half-open --probe succeeds--> closed
//	half-open --probe fails--> open (a new cool-down)
//	half-open --probe ignored--> half-open (the next request probes)
//
// In closed state a success resets the failure count. While a probe is in
// flight, other requests are refused as in the open state.
type Breaker struct {
	cfg BreakerConfig

	mu       sync.Mutex
	state    State
	failures int
	openedAt time.Time
	probing  bool
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	if cfg.FailureThreshold <= 0 {
		cfg.FailureThreshold = DefaultFailureThreshold
	}
	if cfg.CoolDown <= 0 {
		cfg.CoolDown = DefaultCoolDown
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Breaker{cfg: cfg}
}

// Allow reports whether a request may go to the upstream, and whether it
// is the half-open probe. Every allowed request must be followed by one
// Record with the same probe value.
func (b *Breaker) Allow() (probe, ok bool) {
	b.mu.Lock()
	from := b.state
	switch b.state {
	case Closed:
		b.mu.Unlock()
		return false, true
	case Open:
		if b.cfg.Now().Sub(b.openedAt) < b.cfg.CoolDown {
			b.mu.Unlock()
			return false, false
		}
		b.state = HalfOpen
	}
	// HalfOpen
	if b.probing {
		b.mu.Unlock()
		return false, false
	}
	b.probing = true
	b.mu.Unlock()
	b.changed(from, HalfOpen)
	return true, true
}

// Record reports the outcome of a request Allow let through.
func (b *Breaker) Record(probe bool, o Outcome) {
	b.mu.Lock()
	from := b.state
	if probe {
		b.probing = false
		switch o {
		case Success:
			b.state, b.failures = Closed, 0
		case Failure:
			b.state, b.openedAt = Open, b.cfg.Now()
		}
	} else if b.state == Closed {
		switch o {
		case Success:
			b.failures = 0
		case Failure:
			b.failures++
			if b.failures >= b.cfg.FailureThreshold {
				b.state, b.openedAt, b.failures = Open, b.cfg.Now(), 0
			}
		}
	}
	to := b.state
	b.mu.Unlock()
	b.changed(from, to)
}

func (b *Breaker) changed(from, to State) {
	if from != to && b.cfg.OnChange != nil {
		b.cfg.OnChange(from, to)
	}
}

// State returns the current state. An open breaker whose cool-down has
// passed still reports Open until a request probes it.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// RetryIn returns how long until an open breaker lets a probe through (0
// when it is not open or the cool-down has passed).
func (b *Breaker) RetryIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != Open {
		return 0
	}
	return max(b.cfg.CoolDown-b.cfg.Now().Sub(b.openedAt), 0)
}
