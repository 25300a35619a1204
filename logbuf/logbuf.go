// Package logbuf provides a buffered writer for log output: records are
// collected in memory and written to the underlying writer by a background
// flusher at a fixed interval, when the buffer fills up, or at once for
// records at or above a level (Handler). An access log line per request
// otherwise costs a write system call per request, a few percent of a market
// order's CPU.
//
// What a crash can lose is the last interval of records below the flush
// level; records at or above it are written before the call that logged them
// returns.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer buffers whole writes (slog handlers write one record per call) and
// writes them to the underlying writer in order. It is safe for concurrent
// use.
type Writer struct {
	out   io.Writer
	limit int

	mu    sync.Mutex // guards buf and err
	buf   []byte
	err   error
	flush sync.Mutex // held while writing to out, so flushes stay in order

	spare []byte // the buffer being written; guarded by flush
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// New returns a Writer over out that flushes every interval (> 0) and
// whenever more than limit bytes are buffered.
func New(out io.Writer, interval time.Duration, limit int) *Writer {
	w := &Writer{out: out, limit: limit, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(interval)
	return w
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Write buffers p. It returns the error of an earlier failed flush, if any
// (and then drops p: the output is broken).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return 0, err
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.limit
	w.mu.Unlock()
	if full {
		if err := w.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	w.flush.Lock()
	defer w.flush.Unlock()
	w.mu.Lock()
	buf, err := w.buf, w.err
	w.buf = w.spare[:0]
	w.mu.Unlock()
	if err != nil || len(buf) == 0 {
		w.spare = buf
		return err
	}
	_, err = w.out.Write(buf)
	w.spare = buf[:0]
	if err != nil {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	}
	return err
}

// Close stops the background flusher and flushes. Writes after Close are
// buffered until the next Flush.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return w.Flush()
}

// Handler returns h flushing w after every record at or above level, so
// that warnings and errors are out before the code that logged them goes on.
func Handler(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return &flushing{Handler: h, w: w, level: level}
}

type flushing struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (f *flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= f.level {
		if ferr := f.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f *flushing) WithAttrs(as []slog.Attr) slog.Handler {
	return &flushing{Handler: f.Handler.WithAttrs(as), w: f.w, level: f.level}
}

func (f *flushing) WithGroup(name string) slog.Handler {
	return &flushing{Handler: f.Handler.WithGroup(name), w: f.w, level: f.level}
}
