package decimal

import (
	"encoding/json"
)

// Pattern is the regular expression of the decimal text Parse accepts (as a
// JSON string), for API schemas.
const Pattern = `^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`

// MarshalJSON writes d as a JSON string of its canonical text ("1000.5").
// It fails only for a value beyond Parse's range (see the package comment).
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !d.inRange() {
		return nil, invalid("decimal out of range: %s", d.String())
	}
	buf := make([]byte, 0, 24)
	buf = append(buf, '"')
	buf = d.appendText(buf)
	return append(buf, '"'), nil
}

// UnmarshalJSON sets d from a JSON string or a JSON number, parsing the exact
// text with Parse's rules (the string's content must itself be a number: no
// spaces, no '+'). null, booleans, objects, arrays and texts longer than
// MaxTextLen are errors wrapping ErrInvalid, and d is left unchanged.
func (d *Decimal) UnmarshalJSON(data []byte) error {
	v, err := parseJSON(data)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseJSON(data []byte) (Decimal, error) {
	if len(data) > MaxTextLen+2 {
		return Decimal{}, invalid("invalid decimal: longer than %d characters", MaxTextLen)
	}
	if len(data) == 0 {
		return Decimal{}, invalid("invalid decimal: empty")
	}
	switch c := data[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return Decimal{}, invalid("invalid decimal: malformed JSON string")
		}
		return Parse(s)
	case c == '-' || isDigit(c):
		return Parse(string(data))
	case c == 'n':
		return Decimal{}, invalid("invalid decimal: null is not a number")
	default:
		return Decimal{}, invalid("invalid decimal: expected a number or a string")
	}
}

// JSONSchema describes Decimal for OpenAPI: a string on output; on input a
// string matching Pattern or a number.
func (Decimal) JSONSchema() map[string]any {
	return map[string]any{
		"type":        []any{"string", "number"},
		"pattern":     Pattern,
		"format":      "decimal",
		"description": "Exact decimal. Responses carry it as a string; requests accept a string or a JSON number, parsed exactly (at most 38 significant digits).",
		"examples":    []any{"1000.00"},
	}
}

// Number is a Decimal that marshals as a JSON number (its exact canonical
// text, unquoted: 1000.5, 1.5E+40), for the response fields the API types as
// numbers (inventory market data). It unmarshals like Decimal.
type Number struct {
	Decimal
}

// Num returns d as a Number.
func Num(d Decimal) Number { return Number{d} }

// NumPtr returns a pointer to d as a Number, or nil when d is nil (for
// nullable number fields).
func NumPtr(d *Decimal) *Number {
	if d == nil {
		return nil
	}
	return &Number{*d}
}

// MarshalJSON writes n as a JSON number with its exact decimal text.
func (n Number) MarshalJSON() ([]byte, error) {
	if !n.inRange() {
		return nil, invalid("decimal out of range: %s", n.String())
	}
	return n.appendText(make([]byte, 0, 24)), nil
}

// JSONSchema describes Number for OpenAPI: a JSON number.
func (Number) JSONSchema() map[string]any {
	return map[string]any{
		"type":        "number",
		"description": "Exact decimal written as a JSON number.",
	}
}
