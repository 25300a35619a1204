package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/orderprocessor/orderprocessor/store"
)

// errCorrupt is returned for an entry this package did not write.
var errCorrupt = errors.New("cache: malformed entry")

// Item encoding: a uvarint attribute count, then per attribute its name
// (uvarint length + bytes), a kind byte ('S', 'N', 't', 'f') and, for S and
// N, the text (uvarint length + bytes). A page is a uvarint item count, the
// items, and the cursor (uvarint length + bytes).

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendItem(b []byte, it store.Item) []byte {
	b = binary.AppendUvarint(b, uint64(len(it)))
	for name, v := range it {
		b = appendString(b, name)
		switch v.Kind() {
		case store.KindString:
			b = appendString(append(b, 'S'), v.Str())
		case store.KindNumber:
			b = appendString(append(b, 'N'), v.NumText())
		case store.KindBool:
			if v.BoolVal() {
				b = append(b, 't')
			} else {
				b = append(b, 'f')
			}
		default:
			b = append(b, '-')
		}
	}
	return b
}

func encodeItem(it store.Item) string { return string(appendItem(nil, it)) }

func encodePage(p store.Page) string {
	b := binary.AppendUvarint(nil, uint64(len(p.Items)))
	for _, it := range p.Items {
		b = appendItem(b, it)
	}
	return string(appendString(b, p.Cursor))
}

type decoder struct {
	s   string
	err error
}

func (d *decoder) uvarint() int {
	if d.err != nil {
		return 0
	}
	n, w := binary.Uvarint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if w <= 0 || n > uint64(len(d.s)) {
		d.err = errCorrupt
		return 0
	}
	d.s = d.s[w:]
	return int(n)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > len(d.s) {
		d.err = errCorrupt
		return ""
	}
	s := strings.Clone(d.s[:n])
	d.s = d.s[n:]
	return s
}

func (d *decoder) item() store.Item {
	n := d.uvarint()
	it := make(store.Item, n)
	for range n {
		name := d.str()
		if d.err != nil || d.s == "" {
			d.err = errCorrupt
			return nil
		}
		kind := d.s[0]
		d.s = d.s[1:]
		switch kind {
		case 'S':
			it[name] = store.S(d.str())
		case 'N':
			it[name] = store.NumberText(d.str())
		case 't', 'f':
			it[name] = store.Bool(kind == 't')
		default:
			d.err = errCorrupt
		}
	}
	return it
}

func decodeItem(s string) (store.Item, error) {
	d := decoder{s: s}
	it := d.item()
	if d.err == nil && d.s != "" {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	return it, nil
}

func decodePage(s string) (store.Page, error) {
	d := decoder{s: s}
	n := d.uvarint()
	p := store.Page{Items: make([]store.Item, 0, min(n, store.MaxQueryLimit))}
	for range n {
		if d.err != nil {
			break
		}
		p.Items = append(p.Items, d.item())
	}
	p.Cursor = d.str()
	if d.err == nil && d.s != "" {
		d.err = errCorrupt
	}
	if d.err != nil {
		return store.Page{}, fmt.Errorf("decode cached page: %w", d.err)
	}
	return p, nil
}

// queryKey identifies a query's result.
func queryKey(q store.Query) string {
	b := make([]byte, 0, 96)
	for _, s := range [...]string{q.Table, q.Index, q.PK, q.SK.Value, q.SK.Value2, q.Cursor} {
		b = appendString(b, s)
	}
	b = append(b, byte(q.SK.Op))
	if q.Desc {
		b = append(b, 'd')
	}
	b = binary.AppendUvarint(b, uint64(q.Limit))
	return string(b)
}
