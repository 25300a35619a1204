package store

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// Kind is the type of an attribute value.
type Kind uint8

// Attribute kinds (DynamoDB's S, N and BOOL).
const (
	KindNone   Kind = iota // the zero Value: absent
	KindString             // S
	KindNumber             // N: an exact decimal, up to 38 significant digits
	KindBool               // BOOL
)

// Value is one attribute value. Numbers keep their exact decimal text.
type Value struct {
	s    string // string value, or a number's canonical decimal text
	kind Kind   // after s: kind and b share one word (24 bytes, not 32)
	b    bool
}

// S returns a string value.
func S(s string) Value { return Value{kind: KindString, s: s} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{kind: KindBool, b: b} }

// Int returns a number value.
func Int(n int64) Value { return Value{kind: KindNumber, s: strconv.FormatInt(n, 10)} }

// Dec returns a number value holding d exactly. d must be finite.
func Dec(d *apd.Decimal) Value { return Value{kind: KindNumber, s: d.Text('f')} }

// N returns a number value from decimal text, or an error when text is not a
// finite decimal of at most 38 significant digits.
func N(text string) (Value, error) {
	d, _, err := apd.NewFromString(text)
	if err != nil || d.Form != apd.Finite {
		return Value{}, fmt.Errorf("number %q: %w", text, ErrInvalidRequest)
	}
	if d.NumDigits() > 38 {
		return Value{}, fmt.Errorf("number %q has more than 38 digits: %w", text, ErrInvalidRequest)
	}
	return Value{kind: KindNumber, s: d.Text('f')}, nil
}

// MustN is N for constants; it panics on malformed text.
func MustN(text string) Value {
	v, err := N(text)
	if err != nil {
		panic(err)
	}
	return v
}

// Kind returns the value's kind (KindNone for an absent attribute).
func (v Value) Kind() Kind { return v.kind }

// IsZero reports whether v is absent.
func (v Value) IsZero() bool { return v.kind == KindNone }

// Str returns the string of an S value ("" otherwise).
func (v Value) Str() string {
	if v.kind == KindString {
		return v.s
	}
	return ""
}

// NumText returns the decimal text of an N value ("" otherwise).
func (v Value) NumText() string {
	if v.kind == KindNumber {
		return v.s
	}
	return ""
}

// Decimal returns the number of an N value.
func (v Value) Decimal() (*apd.Decimal, error) {
	if v.kind != KindNumber {
		return nil, fmt.Errorf("value is not a number: %w", ErrInvalidRequest)
	}
	d, _, err := apd.NewFromString(v.s)
	return d, err
}

// Int64 returns an N value as an integer (0 and false if it is not one).
func (v Value) Int64() (int64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	return n, err == nil
}

// BoolVal returns the boolean of a BOOL value (false otherwise).
func (v Value) BoolVal() bool { return v.kind == KindBool && v.b }

// Equal reports whether two values have the same kind and value (numbers compare numerically).
func (v Value) Equal(o Value) bool {
	c, ok := Compare(v, o)
	return ok && c == 0
}

func (v Value) String() string {
	switch v.kind {
	case KindString:
		return strconv.Quote(v.s)
	case KindNumber:
		return v.s
	case KindBool:
		return strconv.FormatBool(v.b)
	}
	return "<none>"
}

// Compare orders two values of the same kind: strings by UTF-8 bytes, numbers
// numerically, false < true. ok is false when kinds differ or either is absent.
func Compare(a, b Value) (c int, ok bool) {
	if a.kind != b.kind || a.kind == KindNone {
		return 0, false
	}
	switch a.kind {
	case KindString:
		switch {
		case a.s < b.s:
			return -1, true
		case a.s > b.s:
			return 1, true
		}
		return 0, true
	case KindNumber:
		if a.s == b.s {
			return 0, true
		}
		if c, ok := compareSmall(a.s, b.s); ok {
			return c, true
		}
		da, _, err1 := apd.NewFromString(a.s)
		db, _, err2 := apd.NewFromString(b.s)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return da.Cmp(db), true
	case KindBool:
		switch {
		case a.b == b.b:
			return 0, true
		case !a.b:
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

// Item is one stored item: attribute name -> value.
type Item map[string]Value

// Clone returns a copy of the item.
func (it Item) Clone() Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}

// Str returns the string attribute name ("" when absent or not a string).
func (it Item) Str(name string) string { return it[name].Str() }

// Num returns the number attribute name (an error when absent or not a number).
func (it Item) Num(name string) (*apd.Decimal, error) {
	v, ok := it[name]
	if !ok {
		return nil, fmt.Errorf("attribute %q missing: %w", name, ErrInvalidRequest)
	}
	return v.Decimal()
}

// Int returns the integer attribute name (0 when absent).
func (it Item) Int(name string) int64 {
	n, _ := it[name].Int64()
	return n
}

// Bool returns the boolean attribute name (false when absent).
func (it Item) Bool(name string) bool { return it[name].BoolVal() }

// ApplyActions returns the item that results from applying actions to old
// (nil when the item does not exist), with the key attributes of k. Engines
// that apply updates themselves use it, so that every engine agrees.
func ApplyActions(k Key, old Item, actions []Action) (Item, error) {
	var out Item
	if old != nil {
		out = maps.Clone(old) // copies the map's table as it is: no rehashing
	} else {
		out = make(Item, len(actions)+2)
	}
	out[AttrPK], out[AttrSK] = S(k.PK), S(k.SK)
	for _, a := range actions {
		if err := a.validate(); err != nil {
			return nil, err
		}
		switch a.Op {
		case ActSet:
			out[a.Attr] = a.Value
		case ActSetIfAbsent:
			if _, ok := out[a.Attr]; !ok {
				out[a.Attr] = a.Value
			}
		case ActRemove:
			delete(out, a.Attr)
		case ActAdd:
			if cur, ok := out[a.Attr]; ok && cur.kind == KindNumber {
				if sum, ok := addSmall(cur.s, a.Value.s); ok {
					out[a.Attr] = Value{kind: KindNumber, s: sum}
					continue
				}
			}
			delta, err := a.Value.Decimal()
			if err != nil {
				return nil, err
			}
			sum := new(apd.Decimal)
			if cur, ok := out[a.Attr]; ok {
				base, err := cur.Decimal()
				if err != nil {
					return nil, fmt.Errorf("add to non-number %q: %w", a.Attr, ErrInvalidRequest)
				}
				if _, err := numCtx.Add(sum, base, delta); err != nil {
					return nil, fmt.Errorf("add to %q: %w", a.Attr, ErrInvalidRequest)
				}
			} else {
				sum.Set(delta)
			}
			if sum.NumDigits() > 38 {
				return nil, fmt.Errorf("add to %q overflows 38 digits: %w", a.Attr, ErrInvalidRequest)
			}
			out[a.Attr] = Dec(sum)
		}
	}
	return out, nil
}

// numCtx is DynamoDB's number precision: 38 significant digits, exact
// (an inexact result is an error, never a silent rounding).
var numCtx = func() *apd.Context {
	c := apd.BaseContext.WithPrecision(38)
	c.Traps = apd.DefaultTraps | apd.Inexact | apd.Rounded
	return c
}()
