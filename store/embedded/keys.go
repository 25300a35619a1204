package embedded

import (
	"github.com/orderprocessor/orderprocessor/store"
)

// Key encoding. Every Pebble key starts with a one-byte space tag:
//
//	item:  0x01 table 0x00 PK 0x00 SK
//	index: 0x02 table 0x00 index 0x00 esc(indexPK) 0x00 0x01 esc(indexSK) 0x00 0x01 PK 0x00 SK
//	meta:  0x03 name (engine bookkeeping, e.g. which indexes are built)
//	ttl:   0x04 expiry item key (ttl.go)
//
// Table, index, PK and SK never contain a NUL byte (store.Key.Validate and
// Open reject them), so 0x00 separates them and, being the smallest byte,
// keeps a partition's items together and ordered by the SK's UTF-8 bytes.
// Index attribute values may hold any byte, so they are escaped
// (0x00 -> 0x00 0xFF) and terminated by 0x00 0x01, which preserves their
// byte order. The primary key at the end of an index key makes it unique.
const (
	spaceItem  byte = 0x01
	spaceIndex byte = 0x02
	spaceMeta  byte = 0x03
)

// itemKey appends the Pebble key of item k to dst.
func itemKey(dst []byte, k store.Key) []byte {
	dst = append(dst, spaceItem)
	dst = append(dst, k.Table...)
	dst = append(dst, 0)
	dst = append(dst, k.PK...)
	dst = append(dst, 0)
	return append(dst, k.SK...)
}

// itemPartition appends the prefix shared by every item of (table, pk).
func itemPartition(dst []byte, table, pk string) []byte {
	dst = append(dst, spaceItem)
	dst = append(dst, table...)
	dst = append(dst, 0)
	dst = append(dst, pk...)
	return append(dst, 0)
}

// indexPartition appends the prefix shared by every entry of one index partition.
func indexPartition(dst []byte, table, index, ipk string) []byte {
	dst = append(dst, spaceIndex)
	dst = append(dst, table...)
	dst = append(dst, 0)
	dst = append(dst, index...)
	dst = append(dst, 0)
	return appendEscaped(dst, ipk)
}

// indexKey appends the Pebble key of an index entry.
func indexKey(dst []byte, table, index, ipk, isk string, k store.Key) []byte {
	dst = indexPartition(dst, table, index, ipk)
	dst = appendEscaped(dst, isk)
	dst = append(dst, k.PK...)
	dst = append(dst, 0)
	return append(dst, k.SK...)
}

// appendEscaped appends s escaped and terminated (see the package comment on keys).
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xFF)
		} else {
			dst = append(dst, s[i])
		}
	}
	return append(dst, 0, 0x01)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// skBounds returns the key range [lower, upper) of the entries of partition
// prefix pp whose sort key satisfies c. escaped says whether sort keys are
// escaped and terminated (index entries) or raw and ending the key (items).
func skBounds(pp []byte, c store.SortCond, escaped bool) (lower, upper []byte) {
	// ge(v): the smallest key whose sort key is >= v.
	ge := func(v string) []byte {
		if escaped {
			return appendEscaped(clone(pp), v)
		}
		return append(clone(pp), v...)
	}
	// gt(v): the smallest key whose sort key is > v.
	gt := func(v string) []byte {
		b := ge(v)
		if escaped {
			b[len(b)-1]++ // 0x00 0x01 -> 0x00 0x02: past every entry with sort key v
			return b
		}
		return append(b, 0) // right after the one key with sort key v
	}
	all := prefixEnd(pp)
	switch c.Op {
	case store.SortEq:
		return ge(c.Value), gt(c.Value)
	case store.SortBeginsWith:
		p := ge(c.Value)
		if escaped {
			p = p[:len(p)-2] // drop the terminator: a prefix, not a whole value
		}
		return p, prefixEnd(p)
	case store.SortBetween:
		return ge(c.Value), gt(c.Value2)
	case store.SortLt:
		return clone(pp), ge(c.Value)
	case store.SortLe:
		return clone(pp), gt(c.Value)
	case store.SortGt:
		return gt(c.Value), all
	case store.SortGe:
		return ge(c.Value), all
	}
	return clone(pp), all
}

func clone(b []byte) []byte { return append(make([]byte, 0, len(b)+32), b...) }
