package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// querySKs are the sort keys of partition "P" in byte order: "Z" < "a" <
// multi-byte UTF-8, and prefixes before their extensions.
var querySKs = []string{"A#1", "A#2", "A#10", "B", "Z", "a", "a#", "ab", "abc", "b", "é", "€"}

func sortedSKs() []string {
	out := slices.Clone(querySKs)
	sort.Strings(out) // Go compares strings by bytes: UTF-8 byte order
	return out
}

// sks returns the SK attribute of each item.
func sks(items []store.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Str(store.AttrSK)
	}
	return out
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// queryAll reads every page of q with page size limit, checking each page.
func queryAll(t *testing.T, s store.Store, q store.Query, limit int) []store.Item {
	t.Helper()
	q.Limit = limit
	return readPages(t, limit, limit, func(cursor string) (store.Page, error) {
		q.Cursor = cursor
		return s.Query(context.Background(), q)
	})
}

// readPages reads pages from fetch, first with an empty cursor, then with
// each page's cursor, until one has none. Every page holds at most max items
// (limit is the page size asked for, for messages), and a page with a
// cursor is never empty.
func readPages(t *testing.T, limit, max int, fetch func(cursor string) (store.Page, error)) []store.Item {
	t.Helper()
	var all []store.Item
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("reading pages does not end")
		}
		p, err := fetch(cursor)
		if err != nil {
			t.Fatalf("page after cursor %q: %v", cursor, err)
		}
		if len(p.Items) > max {
			t.Fatalf("page of %d items for limit %d", len(p.Items), limit)
		}
		all = append(all, p.Items...)
		if p.Cursor == "" {
			return all
		}
		if len(p.Items) == 0 {
			t.Fatal("empty page with a cursor")
		}
		cursor = p.Cursor
	}
}

func testQuery(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	for i, sk := range querySKs {
		mustPut(t, s, key(TableItems, "P", sk), store.Item{"i": store.Int(int64(i))})
	}
	// Neighbours that must never leak into partition "P" of TableItems.
	mustPut(t, s, key(TableItems, "P#", "a"), store.Item{"i": store.Int(-1)})
	mustPut(t, s, key(TableItems, "P1", "a"), store.Item{"i": store.Int(-1)})
	mustPut(t, s, key(TableItems, "O", "zzz"), store.Item{"i": store.Int(-1)})
	mustPut(t, s, key(TableLedger, "P", "a"), store.Item{"i": store.Int(-1)})
	all := sortedSKs()
	filter := func(keep func(sk string) bool) []string {
		var out []string
		for _, sk := range all {
			if keep(sk) {
				out = append(out, sk)
			}
		}
		return out
	}

	cases := []struct {
		name string
		sk   store.SortCond
		want []string
	}{
		{"any", store.SortCond{Op: store.SortAny}, all},
		{"eq", store.SortCond{Op: store.SortEq, Value: "ab"}, []string{"ab"}},
		{"eq missing", store.SortCond{Op: store.SortEq, Value: "aa"}, nil},
		{"begins with", store.SortCond{Op: store.SortBeginsWith, Value: "a"}, []string{"a", "a#", "ab", "abc"}},
		{"begins with A#", store.SortCond{Op: store.SortBeginsWith, Value: "A#"}, []string{"A#1", "A#10", "A#2"}},
		{"begins with none", store.SortCond{Op: store.SortBeginsWith, Value: "x"}, nil},
		{"begins with multibyte", store.SortCond{Op: store.SortBeginsWith, Value: "€"}, []string{"€"}},
		{"between", store.SortCond{Op: store.SortBetween, Value: "B", Value2: "ab"}, filter(func(s string) bool { return s >= "B" && s <= "ab" })},
		{"between same", store.SortCond{Op: store.SortBetween, Value: "a", Value2: "a"}, []string{"a"}},
		{"between absent bounds", store.SortCond{Op: store.SortBetween, Value: "A#3", Value2: "aa"}, filter(func(s string) bool { return s >= "A#3" && s <= "aa" })},
		{"lt", store.SortCond{Op: store.SortLt, Value: "a"}, filter(func(s string) bool { return s < "a" })},
		{"le", store.SortCond{Op: store.SortLe, Value: "a"}, filter(func(s string) bool { return s <= "a" })},
		{"gt", store.SortCond{Op: store.SortGt, Value: "a"}, filter(func(s string) bool { return s > "a" })},
		{"ge", store.SortCond{Op: store.SortGe, Value: "a"}, filter(func(s string) bool { return s >= "a" })},
		{"gt multibyte", store.SortCond{Op: store.SortGt, Value: "é"}, []string{"€"}},
		{"lt first", store.SortCond{Op: store.SortLt, Value: "A#1"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, desc := range []bool{false, true} {
				want := tc.want
				if desc {
					want = reversed(want)
				}
				p, err := s.Query(ctx, store.Query{Table: TableItems, PK: "P", SK: tc.sk, Desc: desc})
				if err != nil {
					t.Fatal(err)
				}
				if got := sks(p.Items); !slices.Equal(got, want) {
					t.Fatalf("desc=%v: got %q, want %q", desc, got, want)
				}
				if p.Cursor != "" {
					t.Fatalf("desc=%v: cursor %q after the last item", desc, p.Cursor)
				}
				for _, it := range p.Items {
					if it.Str(store.AttrPK) != "P" || it.Int("i") < 0 {
						t.Fatalf("item of another partition: %v", it)
					}
				}
				// Page by page, with every page size, gives the same items.
				for limit := 1; limit <= len(want)+1; limit++ {
					q := store.Query{Table: TableItems, PK: "P", SK: tc.sk, Desc: desc}
					if got := sks(queryAll(t, s, q, limit)); !slices.Equal(got, want) {
						t.Fatalf("desc=%v limit=%d: got %q, want %q", desc, limit, got, want)
					}
				}
			}
		})
	}
	t.Run("items are whole", func(t *testing.T) {
		p, err := s.Query(ctx, store.Query{Table: TableItems, PK: "P", SK: store.SortCond{Op: store.SortEq, Value: "abc"}})
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("%v %v", p, err)
		}
		sameItem(t, p.Items[0], withKey(key(TableItems, "P", "abc"), store.Item{"i": store.Int(int64(slices.Index(querySKs, "abc")))}))
	})
	t.Run("empty partition", func(t *testing.T) {
		p, err := s.Query(ctx, store.Query{Table: TableItems, PK: "NOPE"})
		if err != nil || len(p.Items) != 0 || p.Cursor != "" {
			t.Fatalf("%v %v", p, err)
		}
	})
	t.Run("exact pages", func(t *testing.T) {
		p, err := s.Query(ctx, store.Query{Table: TableItems, PK: "P", Limit: len(all)})
		if err != nil || len(p.Items) != len(all) || p.Cursor != "" {
			t.Fatalf("%d items, cursor %q, %v", len(p.Items), p.Cursor, err)
		}
		half := len(all) / 2
		p, err = s.Query(ctx, store.Query{Table: TableItems, PK: "P", Limit: half})
		if err != nil || len(p.Items) != half || p.Cursor == "" {
			t.Fatalf("%d items, cursor %q, %v", len(p.Items), p.Cursor, err)
		}
		p, err = s.Query(ctx, store.Query{Table: TableItems, PK: "P", Limit: half, Cursor: p.Cursor})
		if err != nil || len(p.Items) != len(all)-half || p.Cursor != "" {
			t.Fatalf("second page: %d items, cursor %q, %v", len(p.Items), p.Cursor, err)
		}
	})
	t.Run("many pages", func(t *testing.T) {
		const n = 257
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprintf("ITEM#%05d", i)
			mustPut(t, s, key(TableLedger, "MANY", want[i]), store.Item{"i": store.Int(int64(i))})
		}
		for _, limit := range []int{1, 10, 256, 257, 0} {
			for _, desc := range []bool{false, true} {
				w := want
				if desc {
					w = reversed(want)
				}
				l := limit
				if l == 0 {
					l = store.MaxQueryLimit
				}
				got := sks(queryAll(t, s, store.Query{Table: TableLedger, PK: "MANY", Desc: desc}, l))
				if !slices.Equal(got, w) {
					t.Fatalf("limit %d desc %v: %d items, first %q", limit, desc, len(got), got[:min(3, len(got))])
				}
			}
		}
	})
	t.Run("cursor sees later writes after it", func(t *testing.T) {
		q := store.Query{Table: TableLedger, PK: "LIVE", Limit: 2}
		for _, sk := range []string{"a", "b", "d"} {
			mustPut(t, s, key(TableLedger, "LIVE", sk), store.Item{})
		}
		p, err := s.Query(ctx, q)
		if err != nil || !slices.Equal(sks(p.Items), []string{"a", "b"}) {
			t.Fatalf("%v %v", p, err)
		}
		mustPut(t, s, key(TableLedger, "LIVE", "c"), store.Item{})
		if err := s.Delete(ctx, store.Delete{Key: key(TableLedger, "LIVE", "b")}); err != nil {
			t.Fatal(err)
		}
		q.Cursor = p.Cursor
		p, err = s.Query(ctx, q)
		if err != nil || !slices.Equal(sks(p.Items), []string{"c", "d"}) {
			t.Fatalf("%v %v", p, err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		cases := []struct {
			name string
			q    store.Query
		}{
			{"unknown table", store.Query{Table: "nope", PK: "P"}},
			{"empty table", store.Query{PK: "P"}},
			{"unknown index", store.Query{Table: TableItems, Index: "nope", PK: "P"}},
			{"index of another table", store.Query{Table: TableLedger, Index: IndexOwner, PK: "P"}},
			{"empty pk", store.Query{Table: TableItems}},
			{"negative limit", store.Query{Table: TableItems, PK: "P", Limit: -1}},
			{"limit too large", store.Query{Table: TableItems, PK: "P", Limit: store.MaxQueryLimit + 1}},
			{"reversed between", store.Query{Table: TableItems, PK: "P", SK: store.SortCond{Op: store.SortBetween, Value: "b", Value2: "a"}}},
			{"unknown sort op", store.Query{Table: TableItems, PK: "P", SK: store.SortCond{Op: 99, Value: "a"}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Query(ctx, tc.q)
				wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
			})
		}
	})
	t.Run("cursor of another query", func(t *testing.T) {
		mustPut(t, s, key(TableItems, "Q", "a"), store.Item{"owner": store.S("P"), "created": store.S("1")})
		mustPut(t, s, key(TableItems, "Q", "b"), store.Item{"owner": store.S("P"), "created": store.S("2")})
		first := func(q store.Query) string {
			q.Limit = 1
			p, err := s.Query(ctx, q)
			if err != nil || p.Cursor == "" {
				t.Fatalf("query %+v: %v %v", q, p, err)
			}
			return p.Cursor
		}
		base := store.Query{Table: TableItems, PK: "P"}
		cursors := map[string]string{
			"other partition": first(store.Query{Table: TableItems, PK: "Q"}),
			"other table":     first(store.Query{Table: TableLedger, PK: "MANY"}),
			"index":           first(store.Query{Table: TableItems, Index: IndexOwner, PK: "P"}),
		}
		valid := first(base)
		tampered := []byte(valid)
		if tampered[3] == 'A' {
			tampered[3] = 'B'
		} else {
			tampered[3] = 'A'
		}
		cursors["tampered"] = string(tampered)
		cursors["truncated"] = valid[:len(valid)-2]
		cursors["garbage"] = "not a cursor!"
		cursors["too long"] = strings.Repeat("A", page.MaxCursorLen+1)
		for name, c := range cursors {
			t.Run(name, func(t *testing.T) {
				q := base
				q.Cursor = c
				_, err := s.Query(ctx, q)
				wantErr(t, err, page.ErrInvalidCursor, apperr.Invalid)
			})
		}
		// And the index query rejects a table cursor.
		_, err := s.Query(ctx, store.Query{Table: TableItems, Index: IndexOwner, PK: "P", Cursor: valid})
		wantErr(t, err, page.ErrInvalidCursor, apperr.Invalid)
		// The valid one works.
		q := base
		q.Cursor = valid
		p, err := s.Query(ctx, q)
		if err != nil || len(p.Items) != len(all)-1 {
			t.Fatalf("valid cursor: %d items, %v", len(p.Items), err)
		}
	})
}

// indexQuery returns the SKs of the items of an index partition, in index order.
func indexQuery(t *testing.T, s store.Store, index, pk string, sk store.SortCond, desc bool) []string {
	t.Helper()
	items := queryAll(t, s, store.Query{Table: TableItems, Index: index, PK: pk, SK: sk, Desc: desc}, 3)
	return sks(items)
}

func testIndex(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	// Orders of two owners, listed by "created" in the owner index.
	order := func(sk, owner, created string) {
		it := store.Item{"v": store.S(sk)}
		if owner != "" {
			it["owner"] = store.S(owner)
		}
		if created != "" {
			it["created"] = store.S(created)
		}
		mustPut(t, s, key(TableItems, "ORDER#"+sk, sk), it)
	}
	order("o1", "alice", "2024-01-03")
	order("o2", "alice", "2024-01-01")
	order("o3", "bob", "2024-01-02")
	order("o4", "alice", "2024-01-02")
	order("o5", "alice", "")            // no "created": not in the owner index
	order("o6", "", "2024-01-05")       // no "owner": not in the owner index
	order("o7", "alice ", "2024-01-09") // another partition

	t.Run("order and sparse", func(t *testing.T) {
		if got := indexQuery(t, s, IndexOwner, "alice", store.SortCond{}, false); !slices.Equal(got, []string{"o2", "o4", "o1"}) {
			t.Fatalf("alice ascending: %q", got)
		}
		if got := indexQuery(t, s, IndexOwner, "alice", store.SortCond{}, true); !slices.Equal(got, []string{"o1", "o4", "o2"}) {
			t.Fatalf("alice descending: %q", got)
		}
		if got := indexQuery(t, s, IndexOwner, "bob", store.SortCond{}, false); !slices.Equal(got, []string{"o3"}) {
			t.Fatalf("bob: %q", got)
		}
	})
	t.Run("sort conditions", func(t *testing.T) {
		cases := []struct {
			sk   store.SortCond
			want []string
		}{
			{store.SortCond{Op: store.SortEq, Value: "2024-01-02"}, []string{"o4"}},
			{store.SortCond{Op: store.SortBeginsWith, Value: "2024-01-0"}, []string{"o2", "o4", "o1"}},
			{store.SortCond{Op: store.SortBetween, Value: "2024-01-02", Value2: "2024-01-03"}, []string{"o4", "o1"}},
			{store.SortCond{Op: store.SortLt, Value: "2024-01-02"}, []string{"o2"}},
			{store.SortCond{Op: store.SortLe, Value: "2024-01-02"}, []string{"o2", "o4"}},
			{store.SortCond{Op: store.SortGt, Value: "2024-01-02"}, []string{"o1"}},
			{store.SortCond{Op: store.SortGe, Value: "2024-01-02"}, []string{"o4", "o1"}},
		}
		for _, tc := range cases {
			if got := indexQuery(t, s, IndexOwner, "alice", tc.sk, false); !slices.Equal(got, tc.want) {
				t.Fatalf("%+v: got %q, want %q", tc.sk, got, tc.want)
			}
			if got := indexQuery(t, s, IndexOwner, "alice", tc.sk, true); !slices.Equal(got, reversed(tc.want)) {
				t.Fatalf("%+v desc: got %q, want %q", tc.sk, got, reversed(tc.want))
			}
		}
	})
	t.Run("items are whole", func(t *testing.T) {
		p, err := s.Query(ctx, store.Query{Table: TableItems, Index: IndexOwner, PK: "bob"})
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("%v %v", p, err)
		}
		k := key(TableItems, "ORDER#o3", "o3")
		sameItem(t, p.Items[0], withKey(k, store.Item{"v": store.S("o3"), "owner": store.S("bob"), "created": store.S("2024-01-02")}))
	})
	t.Run("follows updates", func(t *testing.T) {
		// Move o2 to the end of alice's list.
		if _, err := s.Update(ctx, store.Update{Key: key(TableItems, "ORDER#o2", "o2"), Actions: []store.Action{store.Set("created", store.S("2024-02-01")), store.Set("x", store.Int(1))}}); err != nil {
			t.Fatal(err)
		}
		// Give o5 a "created": it joins the index.
		if _, err := s.Update(ctx, store.Update{Key: key(TableItems, "ORDER#o5", "o5"), Actions: []store.Action{store.Set("created", store.S("2024-01-01"))}}); err != nil {
			t.Fatal(err)
		}
		// o3 changes owner: it leaves bob's partition for alice's.
		if _, err := s.Update(ctx, store.Update{Key: key(TableItems, "ORDER#o3", "o3"), Actions: []store.Action{store.Set("owner", store.S("alice"))}}); err != nil {
			t.Fatal(err)
		}
		got := indexQuery(t, s, IndexOwner, "alice", store.SortCond{}, false)
		// o3 and o4 share a sort key: their relative order is not specified.
		if len(got) != 5 || got[0] != "o5" || got[3] != "o1" || got[4] != "o2" || !sameSet(got[1:3], []string{"o3", "o4"}) {
			t.Fatalf("alice after updates: %q", got)
		}
		if got := indexQuery(t, s, IndexOwner, "bob", store.SortCond{}, false); len(got) != 0 {
			t.Fatalf("bob after o3 moved: %q", got)
		}
		p, err := s.Query(ctx, store.Query{Table: TableItems, Index: IndexOwner, PK: "alice", SK: store.SortCond{Op: store.SortEq, Value: "2024-02-01"}})
		if err != nil || len(p.Items) != 1 || p.Items[0].Int("x") != 1 {
			t.Fatalf("index copy of o2 not updated: %v %v", p, err)
		}
	})
	t.Run("follows removes, puts and deletes", func(t *testing.T) {
		if _, err := s.Update(ctx, store.Update{Key: key(TableItems, "ORDER#o1", "o1"), Actions: []store.Action{store.Remove("created")}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, store.Delete{Key: key(TableItems, "ORDER#o4", "o4")}); err != nil {
			t.Fatal(err)
		}
		// A put without the owner attribute takes o5 out.
		mustPut(t, s, key(TableItems, "ORDER#o5", "o5"), store.Item{"created": store.S("2024-01-01")})
		got := indexQuery(t, s, IndexOwner, "alice", store.SortCond{}, false)
		if !slices.Equal(got, []string{"o3", "o2"}) {
			t.Fatalf("alice after removes: %q", got)
		}
		if err := s.Transact(ctx, []store.Write{
			del(key(TableItems, "ORDER#o3", "o3"), store.ItemExists()),
			put(key(TableItems, "ORDER#o8", "o8"), store.Item{"owner": store.S("alice"), "created": store.S("2024-03-01")}, nil),
		}); err != nil {
			t.Fatal(err)
		}
		if got := indexQuery(t, s, IndexOwner, "alice", store.SortCond{}, false); !slices.Equal(got, []string{"o2", "o8"}) {
			t.Fatalf("alice after transaction: %q", got)
		}
	})
	t.Run("canceled transaction leaves the index", func(t *testing.T) {
		err := s.Transact(ctx, []store.Write{
			put(key(TableItems, "ORDER#o9", "o9"), store.Item{"owner": store.S("alice"), "created": store.S("2024-04-01")}, nil),
			update(key(TableItems, "ORDER#o2", "o2"), store.VersionIs(42), store.Set("owner", store.S("carol"))),
		})
		if !errors.Is(err, store.ErrConditionFailed) {
			t.Fatalf("error %v", err)
		}
		if got := indexQuery(t, s, IndexOwner, "alice", store.SortCond{}, false); !slices.Equal(got, []string{"o2", "o8"}) {
			t.Fatalf("alice after canceled transaction: %q", got)
		}
	})
	t.Run("index on the sort key", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			status := "open"
			if i%3 == 0 {
				status = "done"
			}
			mustPut(t, s, key(TableItems, fmt.Sprintf("S#%02d", i), fmt.Sprintf("s%02d", i)), store.Item{"status": store.S(status)})
		}
		open := queryAll(t, s, store.Query{Table: TableItems, Index: IndexStatus, PK: "open"}, 4)
		if len(open) != 20 {
			t.Fatalf("%d open items", len(open))
		}
		for i := 1; i < len(open); i++ {
			if open[i-1].Str(store.AttrSK) >= open[i].Str(store.AttrSK) {
				t.Fatalf("index not in SK order: %q", sks(open))
			}
		}
		done := queryAll(t, s, store.Query{Table: TableItems, Index: IndexStatus, PK: "done", Desc: true, SK: store.SortCond{Op: store.SortGe, Value: "s15"}}, 2)
		if got := sks(done); !slices.Equal(got, []string{"s27", "s24", "s21", "s18", "s15"}) {
			t.Fatalf("done >= s15 desc: %q", got)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
