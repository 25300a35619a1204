// Package crashtest drives the real orderprocessor binary as a child process
// to test the durability guarantees of docs/guarantees.md: an acknowledged write
// survives kill -9, an unacknowledged one is fully there or fully absent, and
// a retry with the same Idempotency-Key takes effect at most once.
//
// The library part builds the binary (Build), runs `serve` as a child process
// (Start, Server.Kill, Server.Stop), runs `verify` on a data directory
// (Verify), and talks HTTP to the server while journaling every request
// (Client, Journal). The crash test itself is crash_test.go.
package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ListeningPrefix starts the line `orderprocessor serve` prints on stdout
// once it accepts connections; the URL follows it.
const ListeningPrefix = "Order Processor is listening on "

// ModuleRoot returns the directory of the go.mod that holds dir (dir itself
// or its nearest ancestor with a go.mod).
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("module root of %s: %w", dir, err)
	}
	for {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !st.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("module root of %s: no go.mod in it or above it", dir)
		}
		d = parent
	}
}

// Build compiles ./cmd/orderprocessor of the module rooted at moduleDir into
// the file out with the go command on PATH. Its error carries the compiler's
// output.
func Build(ctx context.Context, moduleDir, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build orderprocessor: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/orderprocessor")
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build orderprocessor: %w\n%s", err, b)
	}
	return nil
}

// ServerConfig describes one `orderprocessor serve` child process.
type ServerConfig struct {
	// Binary is the orderprocessor executable.
	Binary string
	// DataDir is passed as --data-dir.
	DataDir string
	// Args are further serve flags (--addr defaults to 127.0.0.1:0: a free
	// loopback port chosen by the kernel, read back from the ready line).
	Args []string
	// Env is added to the parent's environment.
	Env []string
	// Stderr receives the child's log (discarded when nil).
	Stderr io.Writer
	// StartTimeout bounds the wait for the ready line (10 s when zero).
	StartTimeout time.Duration
}

// Server is a running `orderprocessor serve` child process.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL string

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has been waited for
	err    error         // cmd.Wait's result, set before done closes
	stdout sync.WaitGroup
}

// Start runs `serve` and returns once it printed its ready line (the
// listener is open then). On error the child is killed and reaped.
func Start(ctx context.Context, cfg ServerConfig) (*Server, error) {
	args := []string{"serve", "--data-dir", cfg.DataDir}
	if !hasFlag(cfg.Args, "addr") {
		args = append(args, "--addr", "127.0.0.1:0")
	}
	args = append(args, cfg.Args...)
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stderr = cfg.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start serve: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start serve: %w", err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}

	ready := make(chan string, 1)
	s.stdout.Add(1)
	go func() {
		defer s.stdout.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if url, ok := strings.CutPrefix(line, ListeningPrefix); ok {
				if f := strings.Fields(url); len(f) > 0 {
					select {
					case ready <- f[0]:
					default:
					}
				}
			}
		}
		// Keep draining so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.stdout.Wait() // Wait must not run before the pipe is drained
		s.err = cmd.Wait()
		close(s.done)
	}()

	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case url := <-ready:
		s.URL = url
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("start serve: exited before it was ready: %v", s.err)
	case <-timer.C:
		_ = s.Kill()
		return nil, fmt.Errorf("start serve: not ready after %v", timeout)
	case <-ctx.Done():
		_ = s.Kill()
		return nil, fmt.Errorf("start serve: %w", ctx.Err())
	}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue // a flag's value
		}
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// Pid returns the child's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Kill sends SIGKILL and waits until the process is gone (its store lock is
// released then). Killing an exited process is not an error.
func (s *Server) Kill() error {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill serve (pid %d): %w", s.Pid(), err)
	}
	<-s.done
	return nil
}

// Stop sends SIGTERM (graceful shutdown) and waits up to timeout for the
// process to exit; it returns an error when the exit status is not 0, and
// kills the process when it does not exit in time.
func (s *Server) Stop(timeout time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop serve (pid %d): %w", s.Pid(), err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-s.done:
		if s.err != nil {
			return fmt.Errorf("stop serve (pid %d): %w", s.Pid(), s.err)
		}
		return nil
	case <-timer.C:
		_ = s.Kill()
		return fmt.Errorf("stop serve (pid %d): still running %v after SIGTERM; killed", s.Pid(), timeout)
	}
}

// Verify runs `orderprocessor verify --data-dir dataDir` and returns its
// exit code and combined output. The error is only for a verify that could
// not be run (exit codes are not errors).
func Verify(ctx context.Context, binary, dataDir string) (int, string, error) {
	cmd := exec.CommandContext(ctx, binary, "verify", "--data-dir", dataDir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out), nil
	case errors.As(err, &exit) && exit.Exited():
		return exit.ExitCode(), string(out), nil
	default:
		return -1, string(out), fmt.Errorf("run verify: %w", err)
	}
}
