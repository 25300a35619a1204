package store

import (
	"fmt"
	"strconv"

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
		n += attrSize(name, v)
	}
	return n
}

func attrSize(name string, v Value) int {
	switch v.kind {
	case KindString:
		return len(name) + len(v.s)
	case KindNumber:
		return len(name) + len(v.s)/2 + 1
	case KindBool:
		return len(name) + 1
	}
	return len(name)
}

// ValidateItem checks that an item can be stored: every attribute name is
// non-empty and at most MaxAttrNameLen bytes, every value is present (not the
// zero Value), every number has at most 38 significant digits, and the item's
// ItemSize is at most MaxItemSize. It returns an error wrapping
// ErrInvalidRequest otherwise.
func ValidateItem(it Item) error {
	size := 0 // ItemSize, in the same pass
	for name, v := range it {
		n, err := CheckAttr(name, v)
		if err != nil {
			return err
		}
		size += n
	}
	return CheckItemSize(size)
}

// CheckAttr checks one attribute as ValidateItem does and returns its share
// of ItemSize, so that an engine can validate an item in a pass it makes
// anyway (encoding it) and finish with CheckItemSize.
func CheckAttr(name string, v Value) (int, error) {
	if name == "" || len(name) > MaxAttrNameLen {
		return 0, fmt.Errorf("attribute name of %d bytes: %w", len(name), ErrInvalidRequest)
	}
	switch v.kind {
	case KindString, KindBool:
	case KindNumber:
		if !numberFits(v.s) {
			return 0, fmt.Errorf("attribute %q: number %s has more than 38 digits: %w", name, v.s, ErrInvalidRequest)
		}
	default:
		return 0, fmt.Errorf("attribute %q has no value: %w", name, ErrInvalidRequest)
	}
	return attrSize(name, v), nil
}

// CheckItemSize checks an item's ItemSize, the sum of its attributes'
// CheckAttr sizes, against MaxItemSize.
func CheckItemSize(size int) error {
	if size > MaxItemSize {
		return fmt.Errorf("item of %d bytes exceeds %d: %w", size, MaxItemSize, ErrInvalidRequest)
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

// Fast paths for the common numbers (at most 18 significant digits, as
// money amounts are): exact int64 arithmetic on the canonical decimal text,
// giving the same results and texts as apd. Anything else returns ok=false
// and takes the apd path.

// maxSmallDigits keeps a coefficient, and the sum of two, inside int64.
const maxSmallDigits = 18

var pow10 = func() (p [maxSmallDigits + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseSmall parses canonical decimal text ("-12.340") into coefficient and
// scale (-1234 0, 3) and its digit count.
func parseSmall(s string) (coef int64, scale, digits int, ok bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" {
		return 0, 0, 0, false
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == maxSmallDigits {
				return 0, 0, 0, false
			}
			coef = coef*10 + int64(c-'0')
			digits++
		case c == '.' && dot < 0 && i > 0 && i < len(s)-1:
			dot = i
		default:
			return 0, 0, 0, false
		}
	}
	if dot >= 0 {
		scale = len(s) - dot - 1
	}
	if neg {
		coef = -coef
	}
	return coef, scale, digits, true
}

// alignSmall brings two parsed numbers to the same scale (the larger), or
// returns ok=false when a coefficient would leave the small range.
func alignSmall(a, b string) (ca, cb int64, scale int, ok bool) {
	ca, sa, da, ok1 := parseSmall(a)
	cb, sb, db, ok2 := parseSmall(b)
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	switch {
	case sa < sb:
		if da+sb-sa > maxSmallDigits {
			return 0, 0, 0, false
		}
		ca *= pow10[sb-sa]
		sa = sb
	case sb < sa:
		if db+sa-sb > maxSmallDigits {
			return 0, 0, 0, false
		}
		cb *= pow10[sa-sb]
	}
	return ca, cb, sa, true
}

func compareSmall(a, b string) (int, bool) {
	ca, cb, _, ok := alignSmall(a, b)
	if !ok {
		return 0, false
	}
	switch {
	case ca < cb:
		return -1, true
	case ca > cb:
		return 1, true
	}
	return 0, true
}

// addSmall returns the canonical text of a+b.
func addSmall(a, b string) (string, bool) {
	ca, cb, scale, ok := alignSmall(a, b)
	if !ok {
		return "", false
	}
	sum := ca + cb // |ca|, |cb| < 10^18: no overflow
	neg := sum < 0
	if neg {
		sum = -sum
	}
	if scale == 0 && !neg {
		return strconv.FormatInt(sum, 10), true // 0..99 without allocating
	}
	var d [20]byte
	digits := strconv.AppendInt(d[:0], sum, 10)
	var buf [48]byte // sign, "0.", up to 18 zeros and 19 digits
	out := buf[:0]
	if neg {
		out = append(out, '-')
	}
	if len(digits) <= scale { // 5 at scale 3 is 0.005
		out = append(out, '0', '.')
		for range scale - len(digits) {
			out = append(out, '0')
		}
		out = append(out, digits...)
	} else {
		out = append(out, digits[:len(digits)-scale]...)
		if scale > 0 {
			out = append(append(out, '.'), digits[len(digits)-scale:]...)
		}
	}
	return string(out), true
}
