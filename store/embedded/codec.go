package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/orderprocessor/orderprocessor/store"
)

// Item encoding (the value of an item key and of its index entries):
//
//	0x01 uvarint(count) { uvarint(len(name)) name tag [uvarint(len(text)) text] }
//
// tag is one of the kinds below; strings and numbers carry their text (a
// number's canonical decimal text), booleans live in the tag. No reflection,
// no JSON: encoding is a few appends, decoding one string allocation shared
// by every name and value, and one map.
const (
	codecVersion byte = 0x01

	tagString byte = 1
	tagNumber byte = 2
	tagFalse  byte = 3
	tagTrue   byte = 4
)

var errCorrupt = errors.New("embedded: corrupt item encoding")

// appendItem appends the encoding of it, with the key attributes taken from
// k (whatever it holds under those names), to dst. Values must be present
// (store.ValidateItem checks it).
func appendItem(dst []byte, it store.Item, k store.Key) []byte {
	count := len(it) + 2
	if _, ok := it[store.AttrPK]; ok {
		count--
	}
	if _, ok := it[store.AttrSK]; ok {
		count--
	}
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(count))
	dst = appendText(dst, store.AttrPK, tagString, k.PK)
	dst = appendText(dst, store.AttrSK, tagString, k.SK)
	for name, v := range it {
		switch {
		case name == store.AttrPK || name == store.AttrSK:
		case v.Kind() == store.KindString:
			dst = appendText(dst, name, tagString, v.Str())
		case v.Kind() == store.KindNumber:
			dst = appendText(dst, name, tagNumber, v.NumText())
		case v.Kind() == store.KindBool:
			dst = binary.AppendUvarint(dst, uint64(len(name)))
			dst = append(dst, name...)
			if v.BoolVal() {
				dst = append(dst, tagTrue)
			} else {
				dst = append(dst, tagFalse)
			}
		}
	}
	return dst
}

func appendText(dst []byte, name string, tag byte, text string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = append(dst, tag)
	dst = binary.AppendUvarint(dst, uint64(len(text)))
	return append(dst, text...)
}

// decodeItem decodes an encoding made by appendItem. buf is not retained.
func decodeItem(buf []byte) (store.Item, error) {
	if len(buf) < 2 || buf[0] != codecVersion {
		return nil, errCorrupt
	}
	s := string(buf) // one allocation; names and values are substrings of it
	pos := 1
	count, n := binary.Uvarint(buf[pos:])
	if n <= 0 || count > uint64(len(buf)) {
		return nil, errCorrupt
	}
	pos += n
	// text reads a length-prefixed string at pos.
	text := func() (string, bool) {
		l, n := binary.Uvarint(buf[pos:])
		if n <= 0 || l > uint64(len(buf)-pos-n) {
			return "", false
		}
		start := pos + n
		pos = start + int(l)
		return s[start:pos], true
	}
	it := make(store.Item, count)
	for i := uint64(0); i < count; i++ {
		name, ok := text()
		if !ok || pos >= len(buf) {
			return nil, errCorrupt
		}
		tag := buf[pos]
		pos++
		switch tag {
		case tagString:
			v, ok := text()
			if !ok {
				return nil, errCorrupt
			}
			it[name] = store.S(v)
		case tagNumber:
			v, ok := text()
			if !ok {
				return nil, errCorrupt
			}
			it[name] = store.NumberText(v)
		case tagFalse:
			it[name] = store.Bool(false)
		case tagTrue:
			it[name] = store.Bool(true)
		default:
			return nil, fmt.Errorf("tag %d: %w", tag, errCorrupt)
		}
	}
	if pos != len(buf) {
		return nil, errCorrupt
	}
	return it, nil
}
