package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// IdempotencyHeader and ReplayedHeader are the HTTP headers of idempotent
// retries (services/handlerkit): the request's key, and the mark of a
// response replayed from an earlier request.
const (
	IdempotencyHeader = "Idempotency-Key"
	ReplayedHeader    = "Idempotent-Replayed"
)

// Response is an HTTP answer as the client received it.
type Response struct {
	Status   int
	Body     []byte
	Replayed bool // Idempotent-Replayed: true
}

// OK reports a 2xx status.
func (r Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Request is one HTTP request of a Client.
type Request struct {
	Method string
	Path   string // with query, e.g. /api/v1/balance?currency=USD
	Token  string // bearer token; none when empty
	Key    string // Idempotency-Key; none when empty
	Body   []byte // JSON; none when nil
	// Tag names the request in the journal (e.g. "r3/w2/17 deposit").
	Tag string
}

// Client sends requests to one server URL at a time and journals the
// mutating ones (those with a Key) before they are sent and after their
// outcome is known. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	journal *Journal
	base    atomic.Pointer[string]
}

// NewClient returns a client for baseURL that journals to j (nil: none).
// Requests time out after timeout.
func NewClient(baseURL string, j *Journal, timeout time.Duration) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	c := &Client{http: &http.Client{Transport: tr, Timeout: timeout}, journal: j}
	c.SetBaseURL(baseURL)
	return c
}

// SetBaseURL points the client at another server (a restarted one).
func (c *Client) SetBaseURL(u string) {
	c.base.Store(&u)
	c.http.Transport.(*http.Transport).CloseIdleConnections()
}

// BaseURL returns the server URL requests go to.
func (c *Client) BaseURL() string { return *c.base.Load() }

// Do sends req. A transport error (connection refused or reset, timeout)
// is returned as an error: the request's outcome is then unknown.
func (c *Client) Do(ctx context.Context, req Request) (Response, error) {
	if req.Key != "" {
		c.journal.Sent(req)
	}
	resp, err := c.do(ctx, req)
	if req.Key != "" {
		c.journal.Outcome(req, resp, err)
	}
	return resp, err
}

func (c *Client) do(ctx context.Context, req Request) (Response, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, c.BaseURL()+req.Path, body)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	if req.Key != "" {
		hr.Header.Set(IdempotencyHeader, req.Key)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		// The status line arrived but not the whole answer: not acknowledged.
		return Response{}, fmt.Errorf("%s %s: read response: %w", req.Method, req.Path, err)
	}
	return Response{Status: res.StatusCode, Body: b, Replayed: res.Header.Get(ReplayedHeader) == "true"}, nil
}

// JSON sends req and decodes a response with status want into out (when
// not nil); any other status or a transport error is an error.
func (c *Client) JSON(ctx context.Context, req Request, want int, out any) error {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return err
	}
	if resp.Status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.Path, resp.Status, want, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", req.Method, req.Path, resp.Body, err)
		}
	}
	return nil
}

// Journal is an append-only JSON-lines log of requests and their outcomes:
// a "sent" line before a request leaves the client, an "outcome" line with
// the status and body (or the transport error) after. It is safe for
// concurrent use; a nil *Journal records nothing.
type Journal struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
	seq int64
}

// JournalEntry is one line of a journal.
type JournalEntry struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Phase    string          `json:"phase"` // sent | outcome | note
	Tag      string          `json:"tag,omitempty"`
	Key      string          `json:"key,omitempty"`
	Method   string          `json:"method,omitempty"`
	Path     string          `json:"path,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
	Status   int             `json:"status,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	Replayed bool            `json:"replayed,omitempty"`
	Error    string          `json:"error,omitempty"`
	Note     string          `json:"note,omitempty"`
}

// CreateJournal creates (truncates) the journal file path.
func CreateJournal(path string) (*Journal, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	return &Journal{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// Sent records req before it is sent.
func (j *Journal) Sent(req Request) {
	j.add(JournalEntry{Phase: "sent", Tag: req.Tag, Key: req.Key, Method: req.Method, Path: req.Path, Body: rawJSON(req.Body)})
}

// Outcome records the answer to req, or the transport error.
func (j *Journal) Outcome(req Request, resp Response, err error) {
	e := JournalEntry{Phase: "outcome", Tag: req.Tag, Key: req.Key}
	if err != nil {
		e.Error = err.Error()
	} else {
		e.Status, e.Response, e.Replayed = resp.Status, rawJSON(resp.Body), resp.Replayed
	}
	j.add(e)
}

// Note records a free-form line (round starts, kills, restarts).
func (j *Journal) Note(format string, args ...any) {
	j.add(JournalEntry{Phase: "note", Note: fmt.Sprintf(format, args...)})
}

func rawJSON(b []byte) json.RawMessage {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if !json.Valid(b) {
		q, _ := json.Marshal(string(b))
		return q
	}
	return b
}

func (j *Journal) add(e JournalEntry) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq, e.Time = j.seq, time.Now().UTC()
	b, err := json.Marshal(e)
	if err == nil {
		b = append(b, '\n')
		_, err = j.w.Write(b)
	}
	if err != nil && j.err == nil {
		j.err = err
	}
}

// Flush writes buffered lines to the file.
func (j *Journal) Flush() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.w.Flush(); err != nil && j.err == nil {
		j.err = err
	}
	if j.err != nil {
		return fmt.Errorf("journal: %w", j.err)
	}
	return nil
}

// Close flushes and closes the journal file.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	err := j.Flush()
	if cerr := j.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("journal: %w", cerr)
	}
	return err
}
