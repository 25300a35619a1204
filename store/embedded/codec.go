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
// k (whatever it holds under those names), to dst. It validates the item in
// the same pass (store.ValidateItem's rules) and returns an error wrapping
// store.ErrInvalidRequest for one that cannot be stored.
func appendItem(dst []byte, it store.Item, k store.Key) ([]byte, error) {
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
	size := 0
	for name, v := range it {
		n, err := store.CheckAttr(name, v)
		if err != nil {
			return nil, err
		}
		size += n
		switch {
		case name == store.AttrPK || name == store.AttrSK:
		case v.Kind() == store.KindString:
			dst = appendText(dst, name, tagString, v.Str())
		case v.Kind() == store.KindNumber:
			dst = appendText(dst, name, tagNumber, v.NumText())
		default: // a bool (CheckAttr admits no other kind)
			tag := tagFalse
			if v.BoolVal() {
				tag = tagTrue
			}
			dst = binary.AppendUvarint(dst, uint64(len(name)))
			dst = append(dst, name...)
			dst = append(dst, tag)
		}
	}
	if err := store.CheckItemSize(size); err != nil {
		return nil, err
	}
	return dst, nil
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
	return decodeText(string(buf)) // one allocation; names and values are substrings of it
}

// decodeText decodes an encoding made by appendItem, held in s: the item's
// names and values are substrings of s.
func decodeText(s string) (store.Item, error) {
	if len(s) < 2 || s[0] != codecVersion {
		return nil, errCorrupt
	}
	pos := 1
	count, ok := uvarint(s, &pos)
	if !ok || count > uint64(len(s)) {
		return nil, errCorrupt
	}
	// text reads a length-prefixed string at pos.
	text := func() (string, bool) {
		l, ok := uvarint(s, &pos)
		if !ok || l > uint64(len(s)-pos) {
			return "", false
		}
		start := pos
		pos += int(l)
		return s[start:pos], true
	}
	it := make(store.Item, count)
	for i := uint64(0); i < count; i++ {
		name, ok := text()
		if !ok || pos >= len(s) {
			return nil, errCorrupt
		}
		tag := s[pos]
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
	if pos != len(s) {
		return nil, errCorrupt
	}
	return it, nil
}

// uvarint reads an unsigned varint (binary.AppendUvarint's encoding) of s
// at *pos and moves *pos past it.
func uvarint(s string, pos *int) (uint64, bool) {
	var x uint64
	for shift, i := uint(0), *pos; i < len(s) && shift < 64; shift, i = shift+7, i+1 {
		c := s[i]
		if c < 0x80 {
			if shift == 63 && c > 1 {
				return 0, false // overflow
			}
			*pos = i + 1
			return x | uint64(c)<<shift, true
		}
		x |= uint64(c&0x7f) << shift
	}
	return 0, false
}
