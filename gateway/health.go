package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// serveOps answers the gateway's own endpoints (GET or HEAD):
//
//	/health        200 {"status":"healthy","service":...,"timestamp":...,"version":...}
//	/health/live   200 {"status":"alive","timestamp":...} while the process serves
//	/health/ready  200 {"status":"ready","checks":{"<name>":"ok",...},"timestamp":...} when
//	               every Deps.Ready check passes within Config.ReadyTimeout; 200 with
//	               "status":"degraded" and "<name>":"degraded" when only Degraded
//	               checks fail; else 503 SERVICE_UNAVAILABLE naming the failed
//	               checks (details logged)
//	/metrics       Prometheus text format; 404 NOT_FOUND with Config.NoMetrics
func (g *Gateway) serveOps(ex *exchange, r *http.Request, p string) {
	switch p {
	case PathHealth:
		ex.info.route = g.pseudo[idxHealth]
	case PathHealthLive:
		ex.info.route = g.pseudo[idxLive]
	case PathHealthReady:
		ex.info.route = g.pseudo[idxReady]
	case PathMetrics:
		ex.info.route = g.pseudo[idxMetrics]
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		ex.w.Header()["Allow"] = valAllowGet
		g.writeError(ex, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed")
		return
	}
	var b []byte
	switch p {
	case PathMetrics:
		if g.cfg.NoMetrics {
			g.writeError(ex, http.StatusNotFound, CodeNotFound, "not found")
			return
		}
		g.metricsH.ServeHTTP(ex, r)
		return
	case PathHealth:
		b = append(b, `{"status":"healthy","service":`...)
		b = appendJSONString(b, g.cfg.ServiceName)
		b = append(b, `,"timestamp":"`...)
		b = appendTimestamp(b, g.now())
		b = append(b, `","version":`...)
		b = appendJSONString(b, g.cfg.Version)
		b = append(b, "}\n"...)
	case PathHealthLive:
		b = append(b, `{"status":"alive","timestamp":"`...)
		b = appendTimestamp(b, g.now())
		b = append(b, "\"}\n"...)
	case PathHealthReady:
		ok := g.runChecks(r.Context(), ex.info.id)
		var failed []string
		status := "ready"
		for i, c := range g.ready {
			switch {
			case ok[i]:
			case c.Degraded:
				status = "degraded"
			default:
				failed = append(failed, c.Name)
			}
		}
		if len(failed) > 0 {
			g.writeError(ex, http.StatusServiceUnavailable, CodeServiceUnavailable,
				"not ready: "+strings.Join(failed, ", "))
			return
		}
		b = append(b, `{"status":"`...)
		b = append(b, status...)
		b = append(b, `","checks":{`...)
		for i, c := range g.ready {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c.Name)
			if ok[i] {
				b = append(b, `:"ok"`...)
			} else {
				b = append(b, `:"degraded"`...)
			}
		}
		b = append(b, `},"timestamp":"`...)
		b = appendTimestamp(b, g.now())
		b = append(b, "\"}\n"...)
	}
	h := ex.w.Header()
	h["Content-Type"] = valJSON
	h["Cache-Control"] = valNoStore
	ex.WriteHeader(http.StatusOK)
	_, _ = ex.Write(b)
}

// runChecks runs the readiness checks concurrently, bounded by
// ReadyTimeout, and reports which passed, by index. A check that panics or
// outlives the timeout fails; its goroutine is not waited for.
func (g *Gateway) runChecks(ctx context.Context, requestID string) []bool {
	if len(g.ready) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ReadyTimeout)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(g.ready))
	for i, c := range g.ready {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					results <- result{i, fmt.Errorf("check panicked: %v", p)}
				}
			}()
			results <- result{i, c.Func(ctx)}
		}()
	}
	errs := make([]error, len(g.ready))
	pending := len(g.ready)
	for pending > 0 {
		select {
		case res := <-results:
			errs[res.i] = res.err
			if res.err == nil {
				errs[res.i] = errCheckOK
			}
			pending--
		case <-ctx.Done():
			pending = 0
		}
	}
	ok := make([]bool, len(errs))
	for i, err := range errs {
		if err == errCheckOK {
			ok[i] = true
			continue
		}
		if err == nil {
			err = fmt.Errorf("no answer within %v: %w", g.cfg.ReadyTimeout, ctx.Err())
		}
		g.log.LogAttrs(ctx, slog.LevelWarn, "readiness check failed",
			slog.String("request_id", requestID), slog.String("check", g.ready[i].Name),
			slog.String("error", err.Error()), slog.Bool("degraded", g.ready[i].Degraded))
	}
	return ok
}

// errCheckOK marks a check that answered nil (nil itself means "no answer").
var errCheckOK = fmt.Errorf("ok")
