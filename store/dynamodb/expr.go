package dynamodb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cockroachdb/apd/v3"

	"github.com/orderprocessor/orderprocessor/store"
)

// exprs collects the attribute names (#n0, #n1, ...) and values (:v0, ...)
// of one request's expressions. The zero value is ready to use.
type exprs struct {
	names  map[string]string // placeholder -> attribute name
	byName map[string]string // attribute name -> placeholder
	values map[string]types.AttributeValue
}

// name returns the placeholder of attribute a (one per distinct name).
func (e *exprs) name(a string) string {
	if p, ok := e.byName[a]; ok {
		return p
	}
	if e.names == nil {
		e.names, e.byName = map[string]string{}, map[string]string{}
	}
	p := "#n" + strconv.Itoa(len(e.names))
	e.names[p], e.byName[a] = a, p
	return p
}

// value returns a new placeholder for v.
func (e *exprs) value(v types.AttributeValue) string {
	if e.values == nil {
		e.values = map[string]types.AttributeValue{}
	}
	p := ":v" + strconv.Itoa(len(e.values))
	e.values[p] = v
	return p
}

// Names returns ExpressionAttributeNames (nil when empty, as DynamoDB requires).
func (e *exprs) Names() map[string]string { return e.names }

// Values returns ExpressionAttributeValues (nil when empty).
func (e *exprs) Values() map[string]types.AttributeValue { return e.values }

// condition returns the ConditionExpression of c ("" for nil). c must be valid.
// The translation keeps store.Cond.Eval's semantics:
//   - item-level Exists/NotExists test the key attribute PK;
//   - Ne holds when the attribute is absent (stated explicitly);
//   - order comparisons with a boolean value (DynamoDB has no order on BOOL)
//     become equalities, false < true.
func (e *exprs) condition(c *store.Cond) string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	e.cond(&b, c)
	return b.String()
}

func (e *exprs) cond(b *strings.Builder, c *store.Cond) {
	switch c.Op {
	case store.CondExists, store.CondNotExists:
		attr := c.Attr
		if attr == "" {
			attr = store.AttrPK
		}
		fn := "attribute_exists("
		if c.Op == store.CondNotExists {
			fn = "attribute_not_exists("
		}
		b.WriteString(fn + e.name(attr) + ")")
	case store.CondAnd, store.CondOr:
		sep := " AND "
		if c.Op == store.CondOr {
			sep = " OR "
		}
		b.WriteByte('(')
		for i, s := range c.Sub {
			if i > 0 {
				b.WriteString(sep)
			}
			e.cond(b, s)
		}
		b.WriteByte(')')
	case store.CondNot:
		b.WriteString("(NOT ")
		e.cond(b, c.Sub[0])
		b.WriteByte(')')
	case store.CondEq:
		b.WriteString(e.name(c.Attr) + " = " + e.value(av(c.Value)))
	case store.CondNe:
		n := e.name(c.Attr)
		b.WriteString("(attribute_not_exists(" + n + ") OR " + n + " <> " + e.value(av(c.Value)) + ")")
	default: // Lt, Le, Gt, Ge
		if c.Value.Kind() == store.KindBool {
			e.boolOrder(b, c)
			return
		}
		op := map[store.CondOp]string{store.CondLt: " < ", store.CondLe: " <= ", store.CondGt: " > ", store.CondGe: " >= "}[c.Op]
		b.WriteString(e.name(c.Attr) + op + e.value(av(c.Value)))
	}
}

// boolOrder writes an order comparison with a boolean as equalities.
func (e *exprs) boolOrder(b *strings.Builder, c *store.Cond) {
	// An order on {false < true}: which of the two values satisfy it.
	v := c.Value.BoolVal()
	var okFalse, okTrue bool
	switch c.Op {
	case store.CondLt:
		okFalse = v
	case store.CondLe:
		okFalse, okTrue = true, v
	case store.CondGt:
		okTrue = !v
	case store.CondGe:
		okFalse, okTrue = !v, true
	}
	is := func(v bool) string { return e.name(c.Attr) + " = " + e.value(av(store.Bool(v))) }
	switch {
	case okFalse && okTrue:
		b.WriteString("(" + is(false) + " OR " + is(true) + ")")
	case okFalse:
		b.WriteString(is(false))
	case okTrue:
		b.WriteString(is(true))
	default: // never holds
		pk := e.name(store.AttrPK)
		b.WriteString("(attribute_exists(" + pk + ") AND attribute_not_exists(" + pk + "))")
	}
}

// attrState is what an Update does to one attribute, after folding all of
// its actions in order (DynamoDB rejects two actions on the same attribute).
type attrState struct {
	kind  stateKind
	value store.Value  // stConst: the value; stIfAbsent/stSum: the default
	delta *apd.Decimal // stSum: the amount added
	sum   bool         // stIfAbsent with a delta added
}

type stateKind uint8

const (
	stKeep     stateKind = iota // untouched
	stConst                     // SET a = :v
	stRemoved                   // REMOVE a
	stIfAbsent                  // SET a = if_not_exists(a, :v) [+ :d when sum]
)

// numCtx is DynamoDB's precision: 38 digits, never rounded.
var numCtx = func() *apd.Context {
	c := apd.BaseContext.WithPrecision(38)
	c.Traps = apd.DefaultTraps | apd.Inexact | apd.Rounded
	return c
}()

func addExact(a, b *apd.Decimal) (*apd.Decimal, error) {
	out := new(apd.Decimal)
	if _, err := numCtx.Add(out, a, b); err != nil {
		return nil, err
	}
	if out.NumDigits() > 38 {
		return nil, fmt.Errorf("more than 38 digits")
	}
	return out, nil
}

// buildUpdate returns the UpdateExpression of actions (valid ones), with the
// same result as store.ApplyActions:
//   - Set a v           SET a = :v
//   - SetIfAbsent a v   SET a = if_not_exists(a, :v)
//   - Add a d           SET a = if_not_exists(a, :zero) + :d (a missing
//     attribute counts as 0; DynamoDB's arithmetic on N is exact and fails
//     past 38 digits instead of rounding)
//   - Remove a          REMOVE a
//
// Several actions on one attribute are folded first (Set then Add is a Set
// of the exact sum; Add then Add adds the sum of the deltas). With nothing to
// change it removes a reserved attribute that no item has, so that the
// update still creates a missing item, like UpdateItem.
func (e *exprs) buildUpdate(actions []store.Action) (string, error) {
	states := map[string]*attrState{}
	var order []string
	for _, a := range actions {
		st, ok := states[a.Attr]
		if !ok {
			st = &attrState{}
			states[a.Attr] = st
			order = append(order, a.Attr)
		}
		if err := st.apply(a); err != nil {
			return "", err
		}
	}
	var sets, removes []string
	for _, attr := range order {
		st := states[attr]
		switch st.kind {
		case stConst:
			sets = append(sets, e.name(attr)+" = "+e.value(av(st.value)))
		case stRemoved:
			removes = append(removes, e.name(attr))
		case stIfAbsent:
			n := e.name(attr)
			x := "if_not_exists(" + n + ", " + e.value(av(st.value)) + ")"
			if st.sum {
				x += " + " + e.value(&types.AttributeValueMemberN{Value: st.delta.Text('f')})
			}
			sets = append(sets, n+" = "+x)
		}
	}
	var b strings.Builder
	if len(sets) > 0 {
		b.WriteString("SET " + strings.Join(sets, ", "))
	}
	if len(removes) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("REMOVE " + strings.Join(removes, ", "))
	}
	if b.Len() == 0 {
		b.WriteString("REMOVE " + e.name(noopAttr))
	}
	return b.String(), nil
}

// noopAttr is removed by an Update without changes (see buildUpdate).
const noopAttr = "__orderprocessor_noop"

// apply folds action a into the state.
func (st *attrState) apply(a store.Action) error {
	switch a.Op {
	case store.ActSet:
		*st = attrState{kind: stConst, value: a.Value}
	case store.ActRemove:
		*st = attrState{kind: stRemoved}
	case store.ActSetIfAbsent:
		switch st.kind {
		case stKeep:
			*st = attrState{kind: stIfAbsent, value: a.Value}
		case stRemoved:
			*st = attrState{kind: stConst, value: a.Value}
		} // stConst, stIfAbsent: the attribute exists by then
	case store.ActAdd:
		d, err := a.Value.Decimal()
		if err != nil {
			return fmt.Errorf("add to %q: %w", a.Attr, store.ErrInvalidRequest)
		}
		switch st.kind {
		case stKeep:
			*st = attrState{kind: stIfAbsent, value: store.Int(0), delta: d, sum: true}
		case stRemoved:
			*st = attrState{kind: stConst, value: a.Value}
		case stConst:
			base, err := st.value.Decimal()
			if err != nil {
				return fmt.Errorf("add to non-number %q: %w", a.Attr, store.ErrInvalidRequest)
			}
			sum, err := addExact(base, d)
			if err != nil {
				return fmt.Errorf("add to %q: %v: %w", a.Attr, err, store.ErrInvalidRequest)
			}
			st.value = store.Dec(sum)
		case stIfAbsent:
			if st.value.Kind() != store.KindNumber {
				return fmt.Errorf("add to non-number %q: %w", a.Attr, store.ErrInvalidRequest)
			}
			if st.sum {
				sum, err := addExact(st.delta, d)
				if err != nil {
					return fmt.Errorf("add to %q: %v: %w", a.Attr, err, store.ErrInvalidRequest)
				}
				d = sum
			}
			st.delta, st.sum = d, true
		}
	}
	return nil
}

// keyCondition returns the KeyConditionExpression of a query on the
// partition attribute pkAttr = pk and the sort attribute skAttr.
func (e *exprs) keyCondition(pkAttr, skAttr, pk string, sk store.SortCond) string {
	x := e.name(pkAttr) + " = " + e.value(str(pk))
	if sk.Op == store.SortAny {
		return x
	}
	n := e.name(skAttr)
	switch sk.Op {
	case store.SortEq:
		return x + " AND " + n + " = " + e.value(str(sk.Value))
	case store.SortBeginsWith:
		return x + " AND begins_with(" + n + ", " + e.value(str(sk.Value)) + ")"
	case store.SortBetween:
		return x + " AND " + n + " BETWEEN " + e.value(str(sk.Value)) + " AND " + e.value(str(sk.Value2))
	case store.SortLt:
		return x + " AND " + n + " < " + e.value(str(sk.Value))
	case store.SortLe:
		return x + " AND " + n + " <= " + e.value(str(sk.Value))
	case store.SortGt:
		return x + " AND " + n + " > " + e.value(str(sk.Value))
	case store.SortGe:
		return x + " AND " + n + " >= " + e.value(str(sk.Value))
	}
	panic(fmt.Sprintf("dynamodb: sort condition %d", sk.Op))
}
