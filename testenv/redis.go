package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns the URL of the test Redis (env REDIS_URL, see
// scripts/redis). Without it the test fails when CI is set and is skipped
// otherwise.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Redis required in CI: REDIS_URL is not set (scripts/redis start)")
		}
		t.Skip("REDIS_URL not set; run: eval \"$(scripts/redis start)\"")
	}
	return u
}

// RedisPrefix returns a key prefix of the test's own on the test Redis
// (RedisURL); its keys are deleted when the test ends.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "test:" + strings.ToLower(rand.Text()[:12]) + ":"
	t.Cleanup(func() {
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete the test's Redis keys: %v", err)
		}
	})
	return prefix
}

// RedisServer is a redis-server of the test's own on a free loopback port,
// which the test stops (an outage: SIGKILL) and starts again on the same
// port. Without redis-server (scripts/redis installs it) the test fails
// when CI is set and is skipped otherwise.
type RedisServer struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedis starts a RedisServer, stopped when the test ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server required in CI (scripts/redis installs it)")
		}
		t.Skip("redis-server not installed (scripts/redis installs it)")
	}
	// A free port below Linux's ephemeral range (as scripts/free-port
	// picks), so that no outgoing connection takes it while Redis is down.
	r := &RedisServer{t: t, dir: t.TempDir()}
	for range 100 {
		n, _ := rand.Int(rand.Reader, big.NewInt(12768))
		port := 20000 + int(n.Int64())
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = l.Close()
			r.port = port
			break
		}
	}
	if r.port == 0 {
		t.Fatal("no free port")
	}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL returns the server's redis:// URL.
func (r *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the server (again) and waits until it answers PING.
func (r *RedisServer) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for range 200 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			n, _ := io.ReadFull(c, buf)
			_ = c.Close()
			if string(buf[:n]) == "+PONG\r\n" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on port %d did not answer", r.port)
}

// Stop kills the server (SIGKILL: an outage, not a shutdown).
func (r *RedisServer) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}
