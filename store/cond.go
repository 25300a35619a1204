package store

import "fmt"

// CondOp is the operator of a condition node.
type CondOp uint8

// Condition operators, as in DynamoDB's ConditionExpression.
const (
	CondExists    CondOp = iota + 1 // attribute_exists(Attr); Attr "" means the item exists
	CondNotExists                   // attribute_not_exists(Attr); Attr "" means the item does not exist
	CondEq                          // Attr = Value
	CondNe                          // Attr <> Value (true when Attr is absent)
	CondLt                          // Attr < Value
	CondLe                          // Attr <= Value
	CondGt                          // Attr > Value
	CondGe                          // Attr >= Value
	CondAnd                         // all of Sub
	CondOr                          // any of Sub
	CondNot                         // not Sub[0]
)

// Cond is a condition on the current state of one item. Comparisons between
// values of different kinds, or with an absent attribute, are false (except Ne).
type Cond struct {
	Op    CondOp
	Attr  string
	Value Value
	Sub   []*Cond
}

// ItemExists holds when the item exists.
func ItemExists() *Cond { return &Cond{Op: CondExists} }

// ItemNotExists holds when the item does not exist.
func ItemNotExists() *Cond { return &Cond{Op: CondNotExists} }

// AttrExists holds when the item has attribute a.
func AttrExists(a string) *Cond { return &Cond{Op: CondExists, Attr: a} }

// AttrNotExists holds when the item lacks attribute a (or does not exist).
func AttrNotExists(a string) *Cond { return &Cond{Op: CondNotExists, Attr: a} }

// Eq holds when attribute a equals v.
func Eq(a string, v Value) *Cond { return &Cond{Op: CondEq, Attr: a, Value: v} }

// Ne holds when attribute a is absent or differs from v.
func Ne(a string, v Value) *Cond { return &Cond{Op: CondNe, Attr: a, Value: v} }

// Lt holds when attribute a < v.
func Lt(a string, v Value) *Cond { return &Cond{Op: CondLt, Attr: a, Value: v} }

// Le holds when attribute a <= v.
func Le(a string, v Value) *Cond { return &Cond{Op: CondLe, Attr: a, Value: v} }

// Gt holds when attribute a > v.
func Gt(a string, v Value) *Cond { return &Cond{Op: CondGt, Attr: a, Value: v} }

// Ge holds when attribute a >= v.
func Ge(a string, v Value) *Cond { return &Cond{Op: CondGe, Attr: a, Value: v} }

// VersionIs holds when the item's "version" attribute equals n.
func VersionIs(n int64) *Cond { return Eq("version", Int(n)) }

// And holds when every sub-condition holds. Nil conditions are skipped.
func And(cs ...*Cond) *Cond { return &Cond{Op: CondAnd, Sub: compact(cs)} }

// Or holds when any sub-condition holds. Nil conditions are skipped.
func Or(cs ...*Cond) *Cond { return &Cond{Op: CondOr, Sub: compact(cs)} }

// Not negates c.
func Not(c *Cond) *Cond { return &Cond{Op: CondNot, Sub: []*Cond{c}} }

func compact(cs []*Cond) []*Cond {
	out := make([]*Cond, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Validate checks the condition tree is well formed.
func (c *Cond) Validate() error {
	if c == nil {
		return nil
	}
	switch c.Op {
	case CondExists, CondNotExists:
		return nil
	case CondEq, CondNe, CondLt, CondLe, CondGt, CondGe:
		if c.Attr == "" || c.Value.IsZero() {
			return fmt.Errorf("comparison needs an attribute and a value: %w", ErrInvalidRequest)
		}
		return nil
	case CondAnd, CondOr:
		if len(c.Sub) == 0 {
			return fmt.Errorf("empty and/or: %w", ErrInvalidRequest)
		}
	case CondNot:
		if len(c.Sub) != 1 {
			return fmt.Errorf("not needs one condition: %w", ErrInvalidRequest)
		}
	default:
		return fmt.Errorf("unknown condition %d: %w", c.Op, ErrInvalidRequest)
	}
	for _, s := range c.Sub {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Eval evaluates c against item (nil when the item does not exist). A nil
// condition holds. Engines that evaluate conditions themselves use this, so
// that every engine agrees on the semantics.
func (c *Cond) Eval(item Item) bool {
	if c == nil {
		return true
	}
	switch c.Op {
	case CondExists:
		if c.Attr == "" {
			return item != nil
		}
		_, ok := item[c.Attr]
		return ok
	case CondNotExists:
		if c.Attr == "" {
			return item == nil
		}
		_, ok := item[c.Attr]
		return !ok
	case CondAnd:
		for _, s := range c.Sub {
			if !s.Eval(item) {
				return false
			}
		}
		return true
	case CondOr:
		for _, s := range c.Sub {
			if s.Eval(item) {
				return true
			}
		}
		return false
	case CondNot:
		return !c.Sub[0].Eval(item)
	}
	v, present := item[c.Attr]
	if c.Op == CondNe {
		if !present {
			return true
		}
		cmp, ok := Compare(v, c.Value)
		return !ok || cmp != 0
	}
	if !present {
		return false
	}
	cmp, ok := Compare(v, c.Value)
	if !ok {
		return false
	}
	switch c.Op {
	case CondEq:
		return cmp == 0
	case CondLt:
		return cmp < 0
	case CondLe:
		return cmp <= 0
	case CondGt:
		return cmp > 0
	case CondGe:
		return cmp >= 0
	}
	return false
}
