package store

import (
	"fmt"

	"github.com/cockroachdb/apd/v3"
)

// MaxAttrNameLen bounds an attribute name (DynamoDB allows 64 KiB; we keep
// names short, like keys).
const MaxAttrNameLen = MaxKeyLen

// ItemSize returns the size of an item as DynamoDB counts it, approximately:
// the UTF-8 bytes of every attribute name plus its value (strings: their
// bytes; numbers: one byte per two digits plus one; booleans: one byte).
// Engines compare it with MaxItemSize so that they agree on what fits.
func ItemSize(it Item) int {
	n := 0
	for name, v := range it {
		n += len(name)
		switch v.kind {
		case KindString:
			n += len(v.s)
		case KindNumber:
			n += len(v.s)/2 + 1
		case KindBool:
			n++
		}
	}
	return n
}

// ValidateItem checks that an item can be stored: every attribute name is
// non-empty and at most MaxAttrNameLen bytes, every value is present (not the
// zero Value), every number has at most 38 significant digits, and the item's
// ItemSize is at most MaxItemSize. It returns an error wrapping
// ErrInvalidRequest otherwise.
func ValidateItem(it Item) error {
	for name, v := range it {
		if name == "" || len(name) > MaxAttrNameLen {
			return fmt.Errorf("attribute name of %d bytes: %w", len(name), ErrInvalidRequest)
		}
		switch v.kind {
		case KindString, KindBool:
		case KindNumber:
			if !numberFits(v.s) {
				return fmt.Errorf("attribute %q: number %s has more than 38 digits: %w", name, v.s, ErrInvalidRequest)
			}
		default:
			return fmt.Errorf("attribute %q has no value: %w", name, ErrInvalidRequest)
		}
	}
	if n := ItemSize(it); n > MaxItemSize {
		return fmt.Errorf("item of %d bytes exceeds %d: %w", n, MaxItemSize, ErrInvalidRequest)
	}
	return nil
}

// numberFits reports whether a number's text has at most 38 significant
// digits (leading and trailing zeros do not count). Short texts are accepted without parsing (the hot path).
func numberFits(text string) bool {
	digits := 0
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits <= 38 {
		return true
	}
	d, _, err := apd.NewFromString(text)
	if err != nil || d.Form != apd.Finite {
		return false
	}
	var r apd.Decimal
	r.Reduce(d) // trailing zeros are not significant
	return r.NumDigits() <= 38
}

// NumberText returns a number value holding text verbatim, without parsing
// it. text must be what NumText returned for a valid number (engines use it
// to decode numbers they stored, on the hot path); use N for any other text.
func NumberText(text string) Value { return Value{kind: KindNumber, s: text} }
