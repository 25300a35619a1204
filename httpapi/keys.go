package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// A JSON body that encoding/json would read one way but that another reader
// could read differently is refused: a key repeated in one object
// (encoding/json keeps the last value, other parsers the first), and a key
// that names a struct field only when compared case-insensitively
// (encoding/json matches it, most other readers do not). Keys that match no
// field at all are ignored, as encoding/json ignores them.

// maxKeyShown bounds the bytes of a key or location quoted in an error.
const maxKeyShown = 64

// checkKeys scans body, well-formed JSON, along the Go type t that it is
// decoded into, and returns a BadRequest error for the first repeated key in
// any object and for the first key of a struct object that differs from one
// of the struct's field names only by case. It returns nil when there is
// neither. Keys are compared as encoding/json reads them (escapes decoded,
// invalid UTF-8 replaced by U+FFFD). It does not allocate for bodies whose
// objects have at most 16 keys each and keys without escapes.
func checkKeys(body []byte, t reflect.Type) error {
	s := keyScan{b: body}
	p := s.value(t)
	if p == nil {
		return nil
	}
	loc := "body"
	for i := len(p.path) - 1; i >= 0; i-- {
		loc += "." + p.path[i]
	}
	var msg string
	if p.field == "" {
		msg = "duplicate key " + quoteShort(p.key) + " in " + shorten(loc)
	} else {
		msg = "key " + quoteShort(p.key) + " in " + shorten(loc) + " differs from the field " +
			strconv.Quote(p.field) + " only by case (keys are case-sensitive)"
	}
	return &apperr.Error{Kind: apperr.BadRequest, Message: "invalid request body: " + msg}
}

// keyProblem is what checkKeys found: a repeated key (field == "") or a key
// that matches field only case-insensitively. path holds the location from
// the innermost object outwards (member keys and array indexes).
type keyProblem struct {
	key, field string
	path       []string
}

func shorten(s string) string {
	if len(s) <= maxKeyShown {
		return s
	}
	cut := maxKeyShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func quoteShort(s string) string { return strconv.Quote(shorten(s)) }

// keyScan walks well-formed JSON. On input that is not, it stops without
// reporting anything (encoding/json has already refused it).
type keyScan struct {
	b []byte
	i int
}

func (s *keyScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// keyTarget returns what the values of type t are checked against: the
// fields of a struct, the element type of a map, slice or array (nil for
// anything else: the value is then checked for repeated keys only, which is
// also how values read by an UnmarshalJSON or UnmarshalText method are
// treated).
func keyTarget(t reflect.Type) (fields *structFields, elem reflect.Type) {
	if t == nil {
		return nil, nil
	}
	if kt, ok := keyTargets.Load(t); ok {
		kt := kt.(*keyTargetOf)
		return kt.fields, kt.elem
	}
	fields, elem = findKeyTarget(t)
	keyTargets.Store(t, &keyTargetOf{fields, elem})
	return fields, elem
}

// keyTargetOf is keyTarget's answer for one type.
type keyTargetOf struct {
	fields *structFields
	elem   reflect.Type
}

var keyTargets sync.Map // reflect.Type -> *keyTargetOf

func findKeyTarget(t reflect.Type) (fields *structFields, elem reflect.Type) {
	for t.Kind() == reflect.Pointer {
		if isCustom(t) {
			return nil, nil
		}
		t = t.Elem()
	}
	if isCustom(t) {
		return nil, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return cachedFields(t), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, nil
		}
		return nil, t.Elem()
	case reflect.Slice, reflect.Array:
		return nil, t.Elem()
	}
	return nil, nil
}

func isCustom(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// value checks the JSON value at s.i, decoded into type t (nil: unknown).
func (s *keyScan) value(t reflect.Type) *keyProblem {
	s.space()
	if s.i >= len(s.b) {
		return nil
	}
	switch s.b[s.i] {
	case '{':
		return s.object(t)
	case '[':
		_, elem := keyTarget(t)
		s.i++
		for n := 0; ; n++ {
			s.space()
			if s.i >= len(s.b) {
				return nil
			}
			if s.b[s.i] == ']' {
				s.i++
				return nil
			}
			if p := s.value(elem); p != nil {
				p.path = append(p.path, strconv.Itoa(n))
				return p
			}
			s.space()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		s.str()
	default: // number, true, false, null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return nil
			}
			s.i++
		}
	}
	return nil
}

// object checks the object at s.i, decoded into type t.
func (s *keyScan) object(t reflect.Type) *keyProblem {
	fields, elem := keyTarget(t)
	var small [16][]byte
	keys := small[:0]
	var seen map[string]struct{}
	s.i++ // '{'
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.i++ // '}' (or malformed: stop)
			return nil
		}
		key := s.key()
		if seen != nil {
			if _, dup := seen[string(key)]; dup {
				return &keyProblem{key: string(key)}
			}
			seen[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					return &keyProblem{key: string(key)}
				}
			}
			if len(keys) < len(small) {
				keys = append(keys, key)
			} else {
				seen = make(map[string]struct{}, 2*len(keys))
				for _, k := range keys {
					seen[string(k)] = struct{}{}
				}
				seen[string(key)] = struct{}{}
			}
		}
		vt := elem
		if fields != nil {
			vt = nil
			if f, ok := fields.byName[string(key)]; ok {
				if !f.asString {
					vt = f.typ
				}
			} else if f := fields.fold(key); f != nil {
				return &keyProblem{key: string(key), field: f.name}
			}
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ':' {
			s.i++
		}
		if p := s.value(vt); p != nil {
			p.path = append(p.path, string(key))
			return p
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
		}
	}
}

// str skips the string at s.i and returns its raw content and whether it
// holds a backslash or a byte outside ASCII.
func (s *keyScan) str() (raw []byte, plain bool) {
	s.i++ // '"'
	start, plain := s.i, true
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, plain
		case c == '\\':
			plain = false
			s.i += 2
		case c >= utf8.RuneSelf:
			plain = false
			s.i++
		default:
			s.i++
		}
	}
	return s.b[start:], plain
}

// key reads the string at s.i as encoding/json decodes an object key. A key
// without escapes or invalid UTF-8 is returned as a slice of the body.
func (s *keyScan) key() []byte {
	start := s.i
	raw, plain := s.str()
	if plain || (bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw)) {
		return raw
	}
	var k string
	if err := json.Unmarshal(s.b[start:s.i], &k); err != nil {
		return raw
	}
	return []byte(k)
}

// fold returns the field whose name equals key case-insensitively (as
// encoding/json matches keys), or nil.
func (f *structFields) fold(key []byte) *jsonField {
	k := string(key)
	for i := range f.list {
		if strings.EqualFold(f.list[i].name, k) {
			return &f.list[i]
		}
	}
	return nil
}
