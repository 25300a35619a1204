// Package lease coordinates replicas through the store: a Lease runs a
// singleton job (at most one holder of a named lease at a time, taken over
// when the holder dies), and a Group shares keyed work between the live
// members (each key falls to one of them). Both are conditional writes with
// an expiry in the store (dao.LeaseDAO), so they work on DynamoDB and on
// the embedded engine alike.
//
// Timing, for a term TTL and a renewal period Renew (< TTL/2): an
// acquisition or heartbeat that starts at s writes the expiry s + TTL; the
// process counts it as its own only until s + TTL - Renew by its own clock,
// and renews it every Renew. Another process takes a lease over once the
// stored expiry has passed by its clock, at its next attempt (every Renew):
// within TTL + Renew of the holder's last renewal. The holder's job has
// stopped Renew before the stored expiry, which leaves that much for clocks
// that differ between machines and for a write the job had in flight.
package lease

import (
	"context"
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
)

// DefaultTTL is the term of a lease or heartbeat when Options.TTL is 0: with
// the default renewal period (TTL/3) a lease whose holder died is taken
// over within 8 s.
const DefaultTTL = 6 * time.Second

// Options configures a Lease or a Group.
type Options struct {
	// TTL is the term one acquisition or heartbeat writes (DefaultTTL when 0).
	TTL time.Duration
	// Renew is the period of renewals, heartbeats and acquisition attempts
	// (TTL/3 when 0 or not below TTL/2).
	Renew time.Duration
	// Now is the clock whose times go to the store (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

type timing struct {
	ttl, renew time.Duration
	now        func() time.Time
	log        *slog.Logger
}

func (o Options) timing() timing {
	t := timing{ttl: o.TTL, renew: o.Renew, now: o.Now, log: o.Logger}
	if t.ttl <= 0 {
		t.ttl = DefaultTTL
	}
	if t.renew <= 0 || 2*t.renew >= t.ttl {
		t.renew = t.ttl / 3
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	return t
}

// ProcessID returns a name for this process as a lease holder or group
// member, unique across processes and restarts: the host name (a pod's
// name), the process id and a random suffix.
func ProcessID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
}

// Lease is one process's claim on a named lease.
type Lease struct {
	d            *dao.LeaseDAO
	name, holder string
	timing

	mu       sync.Mutex
	deadline time.Time // held until then (zero: not held)
}

// New returns holder's claim on lease name; it holds nothing until Acquire
// succeeds.
func New(d *dao.LeaseDAO, name, holder string, opts Options) *Lease {
	return &Lease{d: d, name: name, holder: holder, timing: opts.timing()}
}

// Holder is the name this claim holds the lease under.
func (l *Lease) Holder() string { return l.holder }

// Acquire makes one attempt to take the lease (absent or ended) or to renew
// it (held by l's holder). On success the lease is held until the attempt's
// start + TTL - Renew (Held, Deadline); on a refusal or an error it is not
// held any more. It reports whether the lease is held, and the holder that
// has it otherwise ("" when unknown).
func (l *Lease) Acquire(ctx context.Context) (held bool, other string, err error) {
	start := l.now()
	cur, ok, err := l.d.Acquire(ctx, l.name, l.holder, start, start.Add(l.ttl))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || !ok {
		l.deadline = time.Time{}
		return false, cur.Holder, err
	}
	l.deadline = start.Add(l.ttl - l.renew)
	return true, "", nil
}

// Deadline is when the lease stops being held unless renewed (zero when it
// is not held).
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Held reports whether the lease is held now.
func (l *Lease) Held() bool {
	d := l.Deadline()
	return !d.IsZero() && l.now().Before(d)
}

// Release gives the lease up, so that another process may take it at once.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	l.deadline = time.Time{}
	l.mu.Unlock()
	_, err := l.d.Release(ctx, l.name, l.holder)
	return err
}

// Run holds the lease whenever it can until ctx is done, and runs job while
// it holds it. It tries to acquire or renew the lease every Renew. job runs
// under a context that is canceled as soon as a renewal fails (refused or
// an error) or the deadline passes without one; Run waits for job to return
// before it starts it again on a later acquisition. When ctx is done, Run
// cancels job, waits for it and releases the lease.
func (l *Lease) Run(ctx context.Context, job func(context.Context)) {
	var (
		jobCtx context.Context
		stop   context.CancelFunc = func() {}
		done   chan struct{}
	)
	// A timer, not the loop, ends the job at the deadline: the loop may be
	// waiting for a slow renewal then.
	late := time.AfterFunc(time.Hour, func() {})
	late.Stop()
	end := func(why string, args ...any) {
		late.Stop()
		stop()
		if done == nil {
			return
		}
		<-done
		done = nil
		level := slog.LevelWarn
		if ctx.Err() != nil {
			level = slog.LevelInfo // a shutdown
		}
		l.log.Log(ctx, level, "lease: stopped its job", append([]any{"lease", l.name, "holder", l.holder, "why", why}, args...)...)
	}
	t := time.NewTicker(l.renew)
	defer t.Stop()
	for {
		held, other, err := l.Acquire(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			end("renewal failed", "err", err)
			l.log.Warn("lease: acquire", "lease", l.name, "err", err)
		case !held:
			end("held by another process", "other", other)
		default:
			if done != nil && jobCtx.Err() != nil {
				end("renewal late") // the timer ended it; start it again
			}
			if done == nil {
				l.log.Info("lease: acquired", "lease", l.name, "holder", l.holder)
				jobCtx, stop = context.WithCancel(ctx)
				done = make(chan struct{})
				late = time.AfterFunc(l.Deadline().Sub(l.now()), stop)
				go func(ctx context.Context, done chan struct{}) {
					defer close(done)
					job(ctx)
				}(jobCtx, done)
			} else {
				late.Reset(l.Deadline().Sub(l.now()))
			}
		}
		select {
		case <-ctx.Done():
			end("shutting down")
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.renew)
			if err := l.Release(rctx); err != nil {
				l.log.Warn("lease: release", "lease", l.name, "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// Group is one process's membership of a named group whose live members
// share keyed work: each key falls to exactly one of the members in a
// member's view (rendezvous hashing over the member names), so the views of
// two members agree whenever they read the same members. A member joins
// with its first heartbeat and counts as gone TTL after its last one; the
// others see it gone at their next heartbeat after that, and its keys fall
// to them.
type Group struct {
	d            *dao.LeaseDAO
	name, member string
	timing

	mu       sync.Mutex
	members  []string
	deadline time.Time // the view is current until then
}

// NewGroup returns member's membership of group name; it owns nothing until
// its first Heartbeat.
func NewGroup(d *dao.LeaseDAO, name, member string, opts Options) *Group {
	return &Group{d: d, name: name, member: member, timing: opts.timing()}
}

// Member is the name this process is a member under.
func (g *Group) Member() string { return g.member }

// Heartbeat records the member as live for TTL and reads the live members.
// The view it reads decides Owns until the heartbeat's start + TTL - Renew;
// a failed heartbeat leaves the last view, which ends then.
func (g *Group) Heartbeat(ctx context.Context) error {
	start := g.now()
	if err := g.d.Heartbeat(ctx, g.name, g.member, start.Add(g.ttl)); err != nil {
		return err
	}
	ms, err := g.d.Members(ctx, g.name, start)
	if err != nil {
		return err
	}
	if !slices.Contains(ms, g.member) { // a clock behind the others' by more than TTL
		ms = append(ms, g.member)
		slices.Sort(ms)
	}
	g.mu.Lock()
	g.members, g.deadline = ms, start.Add(g.ttl-g.renew)
	g.mu.Unlock()
	return nil
}

// Members returns the live members of the last heartbeat's view, sorted
// (none when that view has ended).
func (g *Group) Members() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.now().Before(g.deadline) {
		return nil
	}
	return slices.Clone(g.members)
}

// Owns reports whether key falls to this member in the current view: the
// member with the highest score of key among the live members. A member
// whose view has ended (its heartbeats fail) owns nothing.
func (g *Group) Owns(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.now().Before(g.deadline) {
		return false
	}
	return Owner(g.members, key) == g.member
}

// Owner returns the member of members that key falls to ("" when members is
// empty): the one with the highest rendezvous score, so that a member's
// leaving moves only its own keys.
func Owner(members []string, key string) string {
	best, bestScore := "", uint64(0)
	for _, m := range members {
		if s := score(m, key); best == "" || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

// score hashes member and key (FNV-1a, then the SplitMix64 finaliser, so
// that names differing in one character spread).
func score(member, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Run heartbeats every Renew until ctx is done, then leaves the group.
func (g *Group) Run(ctx context.Context) {
	t := time.NewTicker(g.renew)
	defer t.Stop()
	for {
		if err := g.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("group: heartbeat", "group", g.name, "member", g.member, "err", err)
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.renew)
			if err := g.d.Leave(rctx, g.name, g.member); err != nil {
				g.log.Warn("group: leave", "group", g.name, "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}
