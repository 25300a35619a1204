package testenv

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StreamPath is the live stream's route (stream.Path).
const StreamPath = "/api/v1/stream"

// SSEEvent is one event read from a live stream: its id, its kind ("" for
// an id-only block, such as the position a stream starts with) and its
// data line.
type SSEEvent struct {
	ID   uint64
	Kind string
	Data string
}

// OpenStream opens GET base+StreamPath with the bearer token and, when not
// empty, Last-Event-ID, fails t unless it is answered 200, and returns its
// events (those with an id) as they arrive; the stream ends with the test.
func OpenStream(t testing.TB, base, token, lastID string) <-chan SSEEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", base+StreamPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("stream on %s: %d", base, resp.StatusCode)
	}
	out := make(chan SSEEvent, 256)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev SSEEvent
		seen := false
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if seen {
					out <- ev
				}
				ev, seen = SSEEvent{}, false
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseUint(line[4:], 10, 64)
				seen = true
			case strings.HasPrefix(line, "event: "):
				ev.Kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	return out
}

// NextEvent returns the next event of a stream, failing t when the stream
// ends or after 10 s without one.
func NextEvent(t testing.TB, events <-chan SSEEvent) SSEEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	panic("unreachable")
}
