package health

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunReportsEveryCheckSorted(t *testing.T) {
	var c Checker
	c.Add("store", func(context.Context) error { return nil })
	c.Add("cache", func(context.Context) error { return errors.New("connection refused") })
	rep := c.Run(context.Background(), time.Second)
	if rep.Healthy() || rep.Status != StatusUnhealthy {
		t.Fatalf("status = %q, want unhealthy", rep.Status)
	}
	if len(rep.Checks) != 2 || rep.Checks[0].Name != "cache" || rep.Checks[1].Name != "store" {
		t.Fatalf("checks = %+v", rep.Checks)
	}
	if rep.Checks[0].Status != StatusUnhealthy || rep.Checks[0].Error != "connection refused" {
		t.Fatalf("cache = %+v", rep.Checks[0])
	}
	if rep.Checks[1].Status != StatusHealthy || rep.Checks[1].Error != "" {
		t.Fatalf("store = %+v", rep.Checks[1])
	}
}

func TestRunHealthyAndEmpty(t *testing.T) {
	var c Checker
	if rep := c.Run(context.Background(), time.Second); !rep.Healthy() || len(rep.Checks) != 0 {
		t.Fatalf("empty checker: %+v", rep)
	}
	c.Add("a", func(context.Context) error { return nil })
	c.Add("a", func(context.Context) error { return errors.New("replaced") })
	rep := c.Run(context.Background(), time.Second)
	if rep.Healthy() || len(rep.Checks) != 1 || rep.Checks[0].Error != "replaced" {
		t.Fatalf("replaced check: %+v", rep)
	}
}

func TestRunTimesOutAHangingCheck(t *testing.T) {
	var c Checker
	release := make(chan struct{})
	defer close(release)
	c.Add("hang", func(ctx context.Context) error { <-release; return nil })
	rep := c.Run(context.Background(), 20*time.Millisecond)
	if rep.Healthy() || rep.Checks[0].Error != context.DeadlineExceeded.Error() {
		t.Fatalf("hanging check: %+v", rep)
	}
}
