package page

// Request is the paging of a list request: the first Offset items after
// Cursor ("" for the start of the list) are skipped, and the next Limit
// (at least 1) are the page.
type Request struct {
	Offset int
	Limit  int
	Cursor string
}

// Reader reads up to limit items of a list after cursor ("" for the
// start), in list order, and returns them with the cursor after the last
// one: "" when the list ends there. A reader may also stop at a bound of
// its own (the stored items it examines for a filter) and return fewer
// than limit items with a cursor.
type Reader[T any] func(limit int, cursor string) (items []T, next string, err error)

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// HasMore reports that items may follow the page: one does, or the read
	// stopped at its reader's bound (the page can then be short).
	HasMore bool
	// Next is the cursor of the page that follows, "" when !HasMore.
	Next string
}

// NextCursor is Next for a JSON answer: nil when no page follows.
func (p Page[T]) NextCursor() *string {
	if !p.HasMore {
		return nil
	}
	next := p.Next
	return &next
}

// Read returns the page r asks for, read with read: one read of
// r.Offset+r.Limit items, of which the first r.Offset are dropped. When
// that read is full and has a cursor, a second read of one item after it
// tells whether anything follows (a reader's cursor may come after the
// last item of the list); when it is short and has a cursor, the reader
// stopped at its bound and the page has more without a second read.
func Read[T any](r Request, read Reader[T]) (Page[T], error) {
	limit := max(r.Limit, 1)
	items, next, err := read(r.Offset+limit, r.Cursor)
	if err != nil {
		return Page[T]{}, err
	}
	full := len(items) >= r.Offset+limit
	if r.Offset < len(items) {
		items = items[r.Offset:]
	} else {
		items = nil
	}
	p := Page[T]{Items: items}
	if next == "" {
		return p, nil
	}
	if full {
		peek, after, err := read(1, next)
		if err != nil {
			return Page[T]{}, err
		}
		if len(peek) == 0 && after == "" {
			return p, nil
		}
	}
	p.HasMore, p.Next = true, next
	return p, nil
}
