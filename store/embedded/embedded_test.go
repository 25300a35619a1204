package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// testOptions keeps test stores small.
var testOptions = Options{
	Logger:       slog.New(slog.DiscardHandler),
	CacheSize:    8 << 20,
	MemTableSize: 4 << 20,
	LockStripes:  1024,
}

func openTest(t *testing.T, dir string, schemas []store.TableSchema) *DB {
	t.Helper()
	db, err := Open(dir, schemas, testOptions)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, schemas []store.TableSchema) store.Store {
		return openTest(t, t.TempDir(), schemas)
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := Open(dir, storetest.Schemas(), Options{}) // default options too
	if err != nil {
		t.Fatal(err)
	}
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}
	if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"owner": store.S("o"), "created": store.S("c"), "n": store.MustN("1.50")}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := db.Get(ctx, k); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("get after close: %v", err)
	}
	if err := db.Ping(ctx); err == nil {
		t.Fatal("ping after close succeeded")
	}
	db = openTest(t, dir, storetest.Schemas())
	it, err := db.Get(ctx, k)
	if err != nil || it["n"].NumText() != "1.50" {
		t.Fatalf("after reopen: %v %v", it, err)
	}
	p, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "o"})
	if err != nil || len(p.Items) != 1 {
		t.Fatalf("index after reopen: %v %v", p, err)
	}
}

func TestOpenRejectsBadSchemas(t *testing.T) {
	cases := []struct {
		name    string
		schemas []store.TableSchema
	}{
		{"empty table name", []store.TableSchema{{Name: ""}}},
		{"nul in table name", []store.TableSchema{{Name: "a\x00b"}}},
		{"table twice", []store.TableSchema{{Name: "a"}, {Name: "a"}}},
		{"empty index name", []store.TableSchema{{Name: "a", Indexes: []store.IndexSchema{{Name: "", PK: "x", SK: "y"}}}}},
		{"index without attributes", []store.TableSchema{{Name: "a", Indexes: []store.IndexSchema{{Name: "i", PK: "x"}}}}},
		{"index twice", []store.TableSchema{{Name: "a", Indexes: []store.IndexSchema{{Name: "i", PK: "x", SK: "y"}, {Name: "i", PK: "x", SK: "z"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(t.TempDir(), tc.schemas, testOptions)
			if !errors.Is(err, store.ErrInvalidRequest) {
				t.Fatalf("open: %v, want ErrInvalidRequest", err)
			}
		})
	}
	t.Run("unusable directory", func(t *testing.T) {
		dir := t.TempDir() + "/file"
		if err := writeFile(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, nil, testOptions); err == nil {
			t.Fatal("open on a file succeeded")
		}
	})
}

// TestIndexSchemaChanges checks that indexes declared, changed or dropped
// between opens are built or removed from the items already stored.
func TestIndexSchemaChanges(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	plain := []store.TableSchema{{Name: "t"}}
	db, err := Open(dir, plain, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	const n = indexBuildBatch + 7 // more than one build batch
	for i := 0; i < n; i++ {
		it := store.Item{"a": store.S(fmt.Sprintf("A%d", i%3)), "b": store.S(fmt.Sprintf("%05d", i))}
		if i%10 == 0 {
			delete(it, "b") // sparse
		}
		if err := db.Put(ctx, store.Put{Key: store.Key{Table: "t", PK: fmt.Sprintf("p%d", i), SK: "s"}, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	count := func(db *DB, index, pk string) int {
		t.Helper()
		total, q := 0, store.Query{Table: "t", Index: index, PK: pk}
		for {
			p, err := db.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			total += len(p.Items)
			if p.Cursor == "" {
				return total
			}
			q.Cursor = p.Cursor
		}
	}
	// rawIndexEntries counts the index's entries in every partition.
	rawIndexEntries := func(db *DB, index string) int {
		t.Helper()
		start := indexPartition(nil, "t", index, "")
		start = start[:len(start)-2]
		iter, err := db.pdb.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer iter.Close()
		c := 0
		for valid := iter.SeekGE(start); valid && bytes.HasPrefix(iter.Key(), start); valid = iter.Next() {
			c++
		}
		return c
	}
	want := 0
	for i := 0; i < n; i++ {
		if i%3 == 0 && i%10 != 0 {
			want++
		}
	}

	withIndex := []store.TableSchema{{Name: "t", Indexes: []store.IndexSchema{{Name: "ab", PK: "a", SK: "b"}}}}
	db = openTest(t, dir, withIndex)
	if got := count(db, "ab", "A0"); got != want {
		t.Fatalf("built index has %d items in A0, want %d", got, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening with the same schema keeps the index as it is.
	db = openTest(t, dir, withIndex)
	if got := count(db, "ab", "A0"); got != want {
		t.Fatalf("index has %d items after reopen, want %d", got, want)
	}
	_ = db.Close()
	// The same index name over other attributes is rebuilt.
	swapped := []store.TableSchema{{Name: "t", Indexes: []store.IndexSchema{{Name: "ab", PK: "b", SK: "a"}}}}
	db = openTest(t, dir, swapped)
	if got := count(db, "ab", "00003"); got != 1 {
		t.Fatalf("rebuilt index has %d items for b=00003", got)
	}
	if got := count(db, "ab", "A0"); got != 0 {
		t.Fatalf("rebuilt index still has %d old entries", got)
	}
	_ = db.Close()
	// Dropping the index removes its entries.
	db = openTest(t, dir, plain)
	if got := rawIndexEntries(db, "ab"); got != 0 {
		t.Fatalf("%d entries left of a dropped index", got)
	}
}

func TestIndexAttributeRules(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	put := func(sk string, it store.Item) error {
		return db.Put(ctx, store.Put{Key: store.Key{Table: storetest.TableItems, PK: "P", SK: sk}, Item: it})
	}
	// Index values may hold any byte, NUL included, and keep their order.
	owners := []string{"a\x00", "a", "a\x00\x00", "a\x01", "a\xff"}
	for i, o := range owners {
		if err := put(fmt.Sprintf("s%d", i), store.Item{"owner": store.S("nul"), "created": store.S(o)}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "nul"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Str("created"))
	}
	want := slices.Clone(owners)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("index order %q, want %q", got, want)
	}
	for _, c := range []struct {
		sk   store.SortCond
		want []string
	}{
		{store.SortCond{Op: store.SortBeginsWith, Value: "a\x00"}, []string{"a\x00", "a\x00\x00"}},
		{store.SortCond{Op: store.SortEq, Value: "a\x00"}, []string{"a\x00"}},
		{store.SortCond{Op: store.SortGt, Value: "a\x00"}, []string{"a\x00\x00", "a\x01", "a\xff"}},
		{store.SortCond{Op: store.SortLe, Value: "a\x00"}, []string{"a", "a\x00"}},
	} {
		p, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "nul", SK: c.sk})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range p.Items {
			got = append(got, it.Str("created"))
		}
		if !slices.Equal(got, c.want) {
			t.Fatalf("%+v: %q, want %q", c.sk, got, c.want)
		}
	}
	// Empty strings and non-strings keep an item out of the index.
	if err := put("e1", store.Item{"owner": store.S("sparse"), "created": store.S("")}); err != nil {
		t.Fatal(err)
	}
	if err := put("e2", store.Item{"owner": store.S("sparse"), "created": store.Int(5)}); err != nil {
		t.Fatal(err)
	}
	if p, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "sparse"}); err != nil || len(p.Items) != 0 {
		t.Fatalf("sparse: %v %v", p, err)
	}
	// An index attribute longer than MaxKeyLen is rejected.
	err = put("long", store.Item{"owner": store.S(strings.Repeat("o", store.MaxKeyLen+1)), "created": store.S("c")})
	if !errors.Is(err, store.ErrInvalidRequest) {
		t.Fatalf("long index attribute: %v", err)
	}
	_, err = db.Update(ctx, store.Update{Key: store.Key{Table: storetest.TableItems, PK: "P", SK: "s0"}, Actions: []store.Action{store.Set("created", store.S(strings.Repeat("c", store.MaxKeyLen+1)))}})
	if !errors.Is(err, store.ErrInvalidRequest) {
		t.Fatalf("long index attribute by update: %v", err)
	}
	// Query partition keys with NUL: fine on an index, invalid on a table.
	if _, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "a\x00b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Query(ctx, store.Query{Table: storetest.TableItems, PK: "a\x00b"}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("table query with NUL: %v", err)
	}
}

func TestCursorChecks(t *testing.T) {
	pp := itemPartition(nil, "t", "p")
	last := append(slices.Clone(pp), "sk"...)
	good := cursorPayload(last, pp, false)
	if k, ok := cursorKey(good, pp, false); !ok || !bytes.Equal(k, last) {
		t.Fatalf("round trip: %q %v", k, ok)
	}
	bad := map[string][]byte{
		"short":           good[:cursorHead-1],
		"version":         append([]byte{9}, good[1:]...),
		"flags":           append([]byte{cursorVersion, 4}, good[2:]...),
		"other partition": cursorPayload(append(itemPartition(nil, "t", "q"), "sk"...), itemPartition(nil, "t", "q"), false),
	}
	for name, payload := range bad {
		if _, ok := cursorKey(payload, pp, false); ok {
			t.Fatalf("%s: accepted", name)
		}
	}
	if _, ok := cursorKey(good, pp, true); ok {
		t.Fatal("ascending cursor accepted for a descending query")
	}
	// Through Query: a cursor of the right partition but outside the
	// query's range, or of the other direction, is refused.
	db := openTest(t, t.TempDir(), []store.TableSchema{{Name: "t"}})
	ctx := context.Background()
	for _, sk := range []string{"a", "b", "c", "d"} {
		if err := db.Put(ctx, store.Put{Key: store.Key{Table: "t", PK: "p", SK: sk}, Item: store.Item{}}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := db.Query(ctx, store.Query{Table: "t", PK: "p", Limit: 1})
	if err != nil || p.Cursor == "" {
		t.Fatal(p, err)
	}
	for _, q := range []store.Query{
		{Table: "t", PK: "p", SK: store.SortCond{Op: store.SortGe, Value: "c"}, Cursor: p.Cursor},
		{Table: "t", PK: "p", SK: store.SortCond{Op: store.SortLt, Value: "a"}, Cursor: p.Cursor},
		{Table: "t", PK: "p", Desc: true, Cursor: p.Cursor},
		{Table: "t", PK: "p", Cursor: db.Cursors().Encode([]byte{1})},
	} {
		if _, err := db.Query(ctx, q); !errors.Is(err, page.ErrInvalidCursor) {
			t.Fatalf("query %+v: %v, want ErrInvalidCursor", q, err)
		}
	}
}

func TestKeyOrder(t *testing.T) {
	// Escaped values keep byte order, terminated values sort before their extensions.
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 'a', 0xfe, 0xff}
	vals := make([]string, 300)
	for i := range vals {
		b := make([]byte, r.IntN(5))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		vals[i] = string(b)
	}
	for _, a := range vals {
		for _, b := range vals[:50] {
			ea, eb := appendEscaped(nil, a), appendEscaped(nil, b)
			if got, want := bytes.Compare(ea, eb), strings.Compare(a, b); got != want {
				t.Fatalf("compare(esc(%q), esc(%q)) = %d, want %d", a, b, got, want)
			}
		}
	}
	if prefixEnd([]byte{0xff, 0xff}) != nil {
		t.Fatal("prefixEnd of all 0xff")
	}
	if got := prefixEnd([]byte{1, 0xff}); !bytes.Equal(got, []byte{2}) {
		t.Fatalf("prefixEnd = %v", got)
	}
	// Bounds of a table partition never reach a neighbour partition.
	pp := itemPartition(nil, "t", "p")
	for _, op := range []store.SortOp{store.SortAny, store.SortLt, store.SortGe, store.SortBeginsWith} {
		lo, hi := skBounds(pp, store.SortCond{Op: op, Value: "x"}, false)
		for _, other := range [][]byte{itemKey(nil, store.Key{Table: "t", PK: "p1", SK: "a"}), itemKey(nil, store.Key{Table: "t", PK: "o", SK: "z"})} {
			if bytes.Compare(other, lo) >= 0 && bytes.Compare(other, hi) < 0 {
				t.Fatalf("op %d: range [%q, %q) holds %q", op, lo, hi, other)
			}
		}
	}
}

func TestCodec(t *testing.T) {
	k := store.Key{Table: "t", PK: "p", SK: "s"}
	it := store.Item{
		"s": store.S("héllo\x00"), "e": store.S(""), "n": store.MustN("-12.3400"),
		"t": store.Bool(true), "f": store.Bool(false), store.AttrPK: store.S("ignored"),
	}
	enc, err := appendItem(nil, it, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeItem(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := it.Clone()
	want[store.AttrPK], want[store.AttrSK] = store.S("p"), store.S("s")
	if len(got) != len(want) {
		t.Fatalf("decoded %v", got)
	}
	for name, v := range want {
		if got[name] != v {
			t.Fatalf("%s = %v, want %v", name, got[name], v)
		}
	}
	// Every truncation and a few corruptions are detected, never a panic.
	for i := 0; i < len(enc); i++ {
		if _, err := decodeItem(enc[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", i)
		}
	}
	for _, bad := range [][]byte{
		{2, 0},                    // version
		{1, 0xff},                 // bad count varint
		{1, 1, 1, 'a', 9},         // bad tag
		{1, 1, 1, 'a', tagString}, // missing text
		{1, 1, 1, 'a', tagNumber, 5, '1'},
		{1, 0, 0}, // trailing bytes
		append(slices.Clone(enc), 0),
	} {
		if _, err := decodeItem(bad); err == nil {
			t.Fatalf("decoded corrupt %v", bad)
		}
	}
}

// FuzzDecodeText: decoding any bytes never panics, its varints read as
// encoding/binary's do, and what decodes encodes back to a text that
// decodes to the same item.
func FuzzDecodeText(f *testing.F) {
	enc, err := appendItem(nil, store.Item{"s": store.S("héllo"), "n": store.MustN("-12.34"), "t": store.Bool(true)},
		store.Key{Table: "t", PK: "p", SK: "s"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos := 0
		got, ok := uvarint(string(b), &pos)
		want, n := binary.Uvarint(b)
		if ok != (n > 0) || ok && (got != want || pos != n) {
			t.Fatalf("uvarint(%x) = %d, %v at %d; binary.Uvarint: %d, %d", b, got, ok, pos, want, n)
		}
		it, err := decodeText(string(b))
		if err != nil {
			return
		}
		k := store.Key{Table: "t", PK: it.Str(store.AttrPK), SK: it.Str(store.AttrSK)}
		again, err := appendItem(nil, it, k)
		if err != nil {
			return // decodable, not storable (an empty name, a long number)
		}
		it[store.AttrPK], it[store.AttrSK] = store.S(k.PK), store.S(k.SK) // as appendItem writes them
		back, err := decodeItem(again)
		if err != nil || !maps.Equal(back, it) {
			t.Fatalf("%v encodes to %x, which decodes to %v, %v", it, again, back, err)
		}
	})
}

func TestLoggerAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := pebbleLogger{slog.New(slog.NewTextHandler(&buf, nil))}
	l.Infof("hello %d", 1) // debug: not shown by the default handler
	l.Errorf("bad %s", "thing")
	// Fatalf outside a commit or Open (a background job of Pebble's) logs
	// and ends the process.
	type exitCode int
	exit = func(code int) { panic(exitCode(code)) }
	t.Cleanup(func() { exit = os.Exit })
	func() {
		defer func() {
			if r := recover(); r != exitCode(1) {
				t.Fatalf("Fatalf did not exit(1): %v", r)
			}
		}()
		l.Fatalf("fatal %d", 2)
	}()
	out := buf.String()
	if strings.Contains(out, "hello 1") {
		t.Fatalf("routine message logged at info: %q", out)
	}
	for _, want := range []string{"bad thing", `msg="pebble: fatal 2; exiting"`, "component=pebble"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log %q lacks %q", out, want)
		}
	}
}
