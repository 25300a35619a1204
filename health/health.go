// Package health reports whether the platform's dependencies can serve
// requests: each dependency registers a named check, and Report runs them all
// concurrently under one deadline.
package health

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Check reports nil when its dependency is healthy.
type Check func(ctx context.Context) error

// Status of one check or of the whole report.
const (
	StatusHealthy   = "healthy"
	StatusUnhealthy = "unhealthy"
)

// Result is the outcome of one check.
type Result struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	Error     string `json:"error,omitempty"`
	LatencyMS int64  `json:"latency_ms"`
}

// Report is the outcome of every check.
type Report struct {
	Status string   `json:"status"`
	Checks []Result `json:"checks"`
}

// Healthy reports whether every check passed.
func (r Report) Healthy() bool { return r.Status == StatusHealthy }

// Checker holds named checks. The zero value is ready to use.
type Checker struct {
	mu     sync.RWMutex
	checks map[string]Check
}

// Add registers (or replaces) the check called name.
func (c *Checker) Add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks == nil {
		c.checks = make(map[string]Check)
	}
	c.checks[name] = check
}

// Run runs every check concurrently, each bounded by timeout, and reports the
// results sorted by name. A check that does not return in time is unhealthy.
func (c *Checker) Run(ctx context.Context, timeout time.Duration) Report {
	c.mu.RLock()
	names := make([]string, 0, len(c.checks))
	for n := range c.checks {
		names = append(names, n)
	}
	checks := make([]Check, len(names))
	sort.Strings(names)
	for i, n := range names {
		checks[i] = c.checks[n]
	}
	c.mu.RUnlock()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	results := make([]Result, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- checks[i](ctx) }()
			var err error
			select {
			case err = <-done:
			case <-ctx.Done():
				err = ctx.Err()
			}
			r := Result{Name: names[i], Status: StatusHealthy, LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				r.Status, r.Error = StatusUnhealthy, err.Error()
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	rep := Report{Status: StatusHealthy, Checks: results}
	for _, r := range results {
		if r.Status != StatusHealthy {
			rep.Status = StatusUnhealthy
		}
	}
	return rep
}
