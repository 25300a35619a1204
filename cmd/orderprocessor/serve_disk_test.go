package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// Environment of TestHelperServeFileLimit.
const (
	serveLimitDirEnv   = "SERVE_TEST_LIMIT_DIR"
	serveLimitBytesEnv = "SERVE_TEST_LIMIT_BYTES"
)

// TestServeOnFullDisk: serve on a disk that takes no more bytes ends with
// one line on stderr and status 1, no panic and no goroutine dump, for a
// new store (its MANIFEST cannot be written) and for a store whose log must
// be replayed into a table that cannot be written. The disk is full by the
// kernel's RLIMIT_FSIZE (a write past the limit fails with EFBIG), in a
// child process: no tmpfs or loop device.
func TestServeOnFullDisk(t *testing.T) {
	// A store with ~256 KiB of incompressible items in its log.
	withLog := t.TempDir()
	db, err := embedded.Open(withLog, dao.DefaultTables.Schemas(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		pad := make([]byte, 512)
		_, _ = rand.Read(pad)
		k := store.Key{Table: dao.DefaultTables.Inventory, PK: "FILL", SK: strconv.Itoa(i)}
		if err := db.Put(context.Background(), store.Put{Key: k, Item: store.Item{"pad": store.S(fmt.Sprintf("%x", pad))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		limit     int
		want      string // the end of the line
	}{
		{"new store", t.TempDir(), 0, "MANIFEST-000001: file too large"},
		{"store with a log to replay", withLog, 64 << 10, ".sst: file too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServeFileLimit$")
			cmd.Env = append(os.Environ(), serveLimitDirEnv+"="+tc.dir, serveLimitBytesEnv+"="+strconv.Itoa(tc.limit),
				"ORDERPROCESSOR_JWT_SECRET="+validSecret)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("serve on a full disk still runs after 30s; stderr:\n%s", stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("serve on a full disk: %v, want exit status 1; stdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			prefix := "serve: open store in " + tc.dir + ": embedded: open " + tc.dir + ": "
			if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) || !strings.HasSuffix(lines[0], tc.want) {
				t.Fatalf("stderr:\n%s\nwant one line %q...%q", stderr.String(), prefix, tc.want)
			}
		})
	}
}

// TestHelperServeFileLimit is run as a subprocess by TestServeOnFullDisk:
// it limits the size of the files it writes and runs serve.
func TestHelperServeFileLimit(t *testing.T) {
	dir := os.Getenv(serveLimitDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	limit, err := strconv.ParseUint(os.Getenv(serveLimitBytesEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Fatal(err)
	}
	os.Exit(runServe([]string{"--data-dir", dir, "--addr", "127.0.0.1:0", "--price-feed", "static"}))
}
