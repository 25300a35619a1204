package page_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/orderprocessor/orderprocessor/page"
)

// list is a list of ints read like a store query: the cursor is the index
// of the next item; tailCursor makes a read that ends exactly at the end
// of the list still return a cursor (as engines may), and bound stops a
// read after examining that many items (as a filtered read does).
type list struct {
	items      []int
	tailCursor bool
	bound      int
	reads      []string
}

func (l *list) read(limit int, cursor string) ([]int, string, error) {
	l.reads = append(l.reads, fmt.Sprintf("%d@%s", limit, cursor))
	from := 0
	if cursor != "" {
		var err error
		if from, err = strconv.Atoi(cursor); err != nil {
			return nil, "", errors.New("bad cursor")
		}
	}
	to := min(from+limit, len(l.items))
	if l.bound > 0 && to-from > l.bound {
		to = from + l.bound
	}
	next := ""
	if to < len(l.items) || (l.tailCursor && to-from == limit) {
		next = strconv.Itoa(to)
	}
	return slices.Clone(l.items[from:to]), next, nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		l       list
		req     page.Request
		items   []int
		hasMore bool
		next    string
		reads   []string
	}{
		{"first page, more follow", list{items: seq(7)}, page.Request{Limit: 3}, []int{0, 1, 2}, true, "3", []string{"3@", "1@3"}},
		{"last page", list{items: seq(7)}, page.Request{Limit: 3, Cursor: "6"}, []int{6}, false, "", []string{"3@6"}},
		{"offset", list{items: seq(7)}, page.Request{Offset: 2, Limit: 3}, []int{2, 3, 4}, true, "5", []string{"5@", "1@5"}},
		{"offset past the end", list{items: seq(4)}, page.Request{Offset: 5, Limit: 3}, nil, false, "", []string{"8@"}},
		{"exact end without a cursor", list{items: seq(6)}, page.Request{Limit: 3, Cursor: "3"}, []int{3, 4, 5}, false, "", []string{"3@3"}},
		{"exact end with a cursor", list{items: seq(6), tailCursor: true}, page.Request{Limit: 3, Cursor: "3"}, []int{3, 4, 5}, false, "",
			[]string{"3@3", "1@6"}},
		{"reader bound: short page with more", list{items: seq(10), bound: 2}, page.Request{Limit: 3}, []int{0, 1}, true, "2", []string{"3@"}},
		{"empty list", list{}, page.Request{Limit: 3}, nil, false, "", []string{"3@"}},
		{"limit 0 reads one", list{items: seq(3)}, page.Request{}, []int{0}, true, "1", []string{"1@", "1@1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			p, err := page.Read(tc.req, l.read)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Items, tc.items) || p.HasMore != tc.hasMore || p.Next != tc.next || !slices.Equal(l.reads, tc.reads) {
				t.Fatalf("items %v has_more %v next %q reads %v\nwant %v %v %q %v", p.Items, p.HasMore, p.Next, l.reads,
					tc.items, tc.hasMore, tc.next, tc.reads)
			}
			if nc := p.NextCursor(); (nc == nil) == tc.hasMore || (nc != nil && *nc != tc.next) {
				t.Fatalf("NextCursor %v", nc)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	l := list{items: seq(5)}
	if _, err := page.Read(page.Request{Limit: 2, Cursor: "x"}, l.read); err == nil {
		t.Fatal("first read's error lost")
	}
	calls := 0
	failPeek := func(limit int, cursor string) ([]int, string, error) {
		calls++
		if calls == 2 {
			return nil, "", errors.New("peek failed")
		}
		return l.read(limit, cursor)
	}
	if _, err := page.Read(page.Request{Limit: 2}, failPeek); err == nil || err.Error() != "peek failed" {
		t.Fatalf("peek error %v", err)
	}
}
