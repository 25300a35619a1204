package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/store"
)

// The crash test runs the store in a child process (this test binary,
// running TestCrashChild), SIGKILLs it at a random moment and checks on
// reopening that every acknowledged transaction is whole and no transaction
// is partial. EMBEDDED_CRASH_KILLS sets the number of kills (default 5).
const (
	crashDirEnv   = "EMBEDDED_CRASH_CHILD_DIR"
	crashKillsEnv = "EMBEDDED_CRASH_KILLS"
	crashWorkers  = 4
	crashTable    = "crash"
)

var crashSchemas = []store.TableSchema{{Name: crashTable, Indexes: []store.IndexSchema{{Name: "by_txn", PK: "worker", SK: "txn"}}}}

func crashPK(w int) string { return fmt.Sprintf("W#%d", w) }

// TestCrashChild is the child's side: it commits transactions until killed,
// printing "ack <worker> <txn>" after each Transact returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashSafety")
	}
	db, err := Open(dir, crashSchemas, testOptions)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex // one line at a time on stdout
	var wg sync.WaitGroup
	for w := 0; w < crashWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pk := crashPK(w)
			counter := store.Key{Table: crashTable, PK: pk, SK: "counter"}
			n := int64(0)
			if it, err := db.Get(ctx, counter); err == nil {
				n = it.Int("n")
			}
			for {
				n++
				id := fmt.Sprintf("%08d", n)
				writes := []store.Write{{Update: &store.Update{Key: counter,
					Cond:    store.Or(store.ItemNotExists(), store.Eq("n", store.Int(n-1))),
					Actions: []store.Action{store.Set("n", store.Int(n))}}}}
				for _, part := range []string{"a", "b", "c"} {
					writes = append(writes, store.Write{Put: &store.Put{
						Key:  store.Key{Table: crashTable, PK: pk, SK: "txn#" + id + "#" + part},
						Item: store.Item{"worker": store.S(pk), "txn": store.S(id + part), "pad": store.S(strings.Repeat("x", 100))},
						Cond: store.ItemNotExists(),
					}})
				}
				if err := db.Transact(ctx, writes); err != nil {
					fmt.Println("transact failed:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Printf("ack %d %d\n", w, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("child")
	}
	kills := 5
	if v := os.Getenv(crashKillsEnv); v != "" {
		var err error
		if kills, err = strconv.Atoi(v); err != nil || kills < 1 {
			t.Fatalf("%s=%q", crashKillsEnv, v)
		}
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := make([]int64, crashWorkers) // highest acknowledged txn per worker
	for kill := 0; kill < kills; kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 5 + r.IntN(400) // acknowledgements before the kill
		sc := bufio.NewScanner(out)
		seen, killed := 0, false
		for sc.Scan() {
			var w int
			var n int64
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &n); err != nil {
				continue // test framework output
			}
			if n > acked[w] {
				acked[w] = n
			}
			if seen++; seen == killAfter && !killed {
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("child ended before the kill (%d acks): %v", seen, err)
		}
		checkCrashState(t, dir, acked)
		t.Logf("kill %d after %d acks: acknowledged %v", kill+1, seen, acked)
	}
}

// checkCrashState reopens the store and checks every worker's transactions:
// 1..counter are whole (three items, in the table and in the index), none
// after counter exists, and every acknowledged one is there.
func checkCrashState(t *testing.T, dir string, acked []int64) {
	t.Helper()
	db, err := Open(dir, crashSchemas, testOptions)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	for w := 0; w < crashWorkers; w++ {
		pk := crashPK(w)
		n := int64(0)
		if it, err := db.Get(ctx, store.Key{Table: crashTable, PK: pk, SK: "counter"}); err == nil {
			n = it.Int("n")
		}
		if n < acked[w] {
			t.Fatalf("worker %d: counter %d but txn %d was acknowledged", w, n, acked[w])
		}
		for _, index := range []string{"", "by_txn"} {
			count := map[string]int{}
			q := store.Query{Table: crashTable, Index: index, PK: pk, SK: store.SortCond{Op: store.SortBeginsWith, Value: "txn#"}}
			if index != "" {
				q.SK = store.SortCond{}
			}
			for {
				p, err := db.Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range p.Items {
					count[it.Str("txn")[:8]]++
				}
				if p.Cursor == "" {
					break
				}
				q.Cursor = p.Cursor
			}
			if int64(len(count)) != n {
				t.Fatalf("worker %d index %q: %d transactions stored, counter says %d", w, index, len(count), n)
			}
			for i := int64(1); i <= n; i++ {
				if c := count[fmt.Sprintf("%08d", i)]; c != 3 {
					t.Fatalf("worker %d index %q: txn %d has %d of 3 items", w, index, i, c)
				}
			}
		}
	}
}
