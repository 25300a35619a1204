package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "load test of %s: %d clients, %d users, %.0fs measured after %.0fs warmup, mix %s, %s x %s\n",
		r.URL, r.Concurrency, r.Users, r.DurationSeconds, r.WarmupSeconds, r.Mix, r.Quantity, strings.Join(r.Assets, ","))
	if r.Interrupted {
		fmt.Fprintf(&b, "INTERRUPTED after %.1fs of the measured period\n", r.ElapsedSeconds)
	}
	fmt.Fprintf(&b, "%-8s %9s %9s %8s %9s %9s %9s %9s\n", "", "requests", "ok", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms")
	line := func(name string, s Stats) {
		fmt.Fprintf(&b, "%-8s %9d %9d %8d %9.2f %9.2f %9.2f %9.2f%s\n", name, s.Attempts, s.Successes, s.Errors,
			s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max, errorList(s.ErrorsByStatus))
	}
	line("orders", r.Orders)
	for _, op := range opNames {
		if s, ok := r.Ops[op]; ok {
			line("  "+op, s)
		}
	}
	if r.Batch > 1 {
		fmt.Fprintf(&b, "batches of %d orders: %d orders placed by %d requests\n", r.Batch, r.Orders.Placed, r.Orders.Successes)
	}
	fmt.Fprintf(&b, "throughput: %.1f orders/s placed, %.1f requests/s in all, over %.1fs\n",
		r.OrdersPerSecond, r.RequestsPerSecond, r.ElapsedSeconds)
	if c := r.Ceiling; c != nil {
		line("ceiling", c.Stats)
		fmt.Fprintf(&b, "ceiling: GET %s %.1f requests/s over %.1fs; orders/s / ceiling = %.4f\n",
			c.Path, c.RequestsPerSecond, c.ElapsedSeconds, r.CeilingRatio)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// errorList formats errors by status as "  (422: 3, transport: 1)".
func errorList(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
