package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// MaxBodyBytes is the largest request body DecodeJSON accepts (64 KiB, docs/api.md).
const MaxBodyBytes = 64 << 10

// maxFieldErrors bounds the field errors reported for one body, so that a
// body of thousands of bad array elements does not produce a huge 422.
const maxFieldErrors = 32

// ErrTooLarge is returned by DecodeJSON for a body over MaxBodyBytes.
// WriteError answers it with 413 {"detail":"request body too large","code":"payload_too_large"}.
var ErrTooLarge = apperr.New(apperr.TooLarge, "request body too large")

// bodyPool recycles body buffers: the order path decodes thousands of bodies
// a second and a body is never retained after DecodeJSON returns
// (json.Unmarshaler implementations must copy what they keep).
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// FastDecoder is implemented by request types with a hand-written decoder for
// their common bodies (entity.OrderCreate). DecodeJSON tries it before
// encoding/json and falls back to encoding/json whenever it declines, so a
// FastDecoder changes only the cost of decoding, never its result or errors.
type FastDecoder interface {
	// DecodeFast decodes body into the receiver and reports true only when
	// the result is exactly what encoding/json.Unmarshal would produce for
	// body, with a successful decode, into the receiver as it was. For
	// anything it does not handle (including every body encoding/json would
	// reject, and every body with a repeated key or a key that differs from
	// a field's name only by case) it returns false and leaves the receiver
	// unchanged: the caller
	// then decodes the normal way, into the untouched value. It must not
	// retain body, which is reused after DecodeJSON returns.
	DecodeFast(body []byte) bool
}

// DecodeJSON reads the request body (at most MaxBodyBytes) and decodes it into
// dst, which must be a non-nil pointer (normally to a struct).
//
// The body must be exactly one JSON object. Unknown fields are ignored; a
// key repeated in one object, and a key that differs from a field's name
// only by case, are refused (see checkKeys).
// Numbers reach json.Unmarshaler fields as their raw text (never through
// float64). Errors, always *apperr.Error:
//   - kind TooLarge (ErrTooLarge) for a body over MaxBodyBytes;
//   - kind BadRequest for a well-formed body with a repeated key or a key
//     that matches a field only case-insensitively (400
//     {"detail":"invalid request body: duplicate key \"amount\" in body","code":"bad_request"});
//   - kind Invalid with field errors otherwise:
//     empty body: loc ["body"], type "missing";
//     malformed JSON or trailing data: loc ["body"], type "json_invalid";
//     valid JSON that is not an object (null, array, scalar): loc ["body"], type "dict_type";
//     a field of the wrong type, or one whose UnmarshalJSON/UnmarshalText
//     fails: loc ["body", <field path>...] (array indexes as decimal strings).
//
// A dst that encoding/json cannot decode into at all (not a pointer) is a
// programming error, reported as kind Internal. The body buffer is reused
// after DecodeJSON returns, so json.Unmarshaler implementations must copy
// what they keep (the encoding/json contract). The happy path costs the same
// as json.Unmarshal, or less for a dst that implements FastDecoder; the
// field walk runs only when decoding failed.
func DecodeJSON(r *http.Request, dst any) error {
	if r.ContentLength > MaxBodyBytes {
		return ErrTooLarge
	}
	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 4*MaxBodyBytes {
			bodyPool.Put(bp)
		}
	}()
	body, err := readBody(r.Body, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		return err
	}
	return decodeBytes(body, dst)
}

// readBody appends at most MaxBodyBytes of rc to buf.
func readBody(rc io.Reader, buf []byte) ([]byte, error) {
	if rc == nil || rc == http.NoBody {
		return buf, nil
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxBodyBytes {
			return buf, ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return buf, ErrTooLarge
			}
			return buf, &apperr.Error{Kind: apperr.Invalid, Message: "could not read request body",
				Fields: []apperr.FieldError{{Loc: []string{"body"}, Msg: "Could not read the request body", Type: "body_read"}},
				Err:    fmt.Errorf("read request body: %w", err)}
		}
	}
}

// bodyError is the Invalid error for a problem with the body as a whole.
func bodyError(msg, typ string) *apperr.Error {
	return &apperr.Error{Kind: apperr.Invalid, Message: "invalid request body: " + msg,
		Fields: []apperr.FieldError{{Loc: []string{"body"}, Msg: msg, Type: typ}}}
}

// decodeBytes is DecodeJSON after the body has been read.
func decodeBytes(body []byte, dst any) error {
	first := firstNonSpace(body)
	switch {
	case first < 0:
		return bodyError("Field required", "missing")
	case body[first] != '{':
		if json.Valid(body) {
			return bodyError("Input should be a valid JSON object", "dict_type")
		}
		return bodyError("Invalid JSON", "json_invalid")
	}
	if fd, ok := dst.(FastDecoder); ok && fd.DecodeFast(body) {
		return nil
	}
	err := json.Unmarshal(body, dst)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return bodyError("Invalid JSON: "+strings.TrimPrefix(se.Error(), "json: ")+
				" at offset "+strconv.FormatInt(se.Offset, 10), "json_invalid")
		}
		var ie *json.InvalidUnmarshalError
		if errors.As(err, &ie) {
			return apperr.Wrap(apperr.Internal, err, "decode request body")
		}
	}
	// The JSON is well formed (Unmarshal validates before it decodes):
	// refuse the keys it reads one way that other readers read another.
	if kerr := checkKeys(body, reflect.TypeOf(dst)); kerr != nil {
		return kerr
	}
	if err == nil {
		return nil
	}
	// The error comes from a field: walk the body along dst's type to find
	// every failing field with its path.
	fields := locate(body, reflect.TypeOf(dst).Elem(), []string{"body"}, nil)
	if len(fields) == 0 {
		fields = []apperr.FieldError{fallbackField(err)}
	}
	return &apperr.Error{Kind: apperr.Invalid, Message: "invalid request body", Fields: fields, Err: err}
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return -1
}

// fallbackField converts an Unmarshal error that locate could not place.
func fallbackField(err error) apperr.FieldError {
	loc := []string{"body"}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		loc = append(loc, strings.Split(te.Field, ".")...)
	}
	fe := leafFieldError(err, nil)
	fe.Loc = loc
	return fe
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
)

// isLeaf reports whether values of t are decoded by one call that cannot be
// split further by field: custom unmarshalers, scalars, interfaces, and maps
// whose keys are not plain strings.
func isLeaf(t reflect.Type) bool {
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array:
		return false
	case reflect.Map:
		return t.Key().Kind() != reflect.String
	case reflect.Pointer:
		return isLeaf(t.Elem())
	default:
		return true
	}
}

// locate decodes data (well-formed JSON) along type t and appends an error
// for every leaf that fails to decode, with loc = path + the leaf's path.
func locate(data []byte, t reflect.Type, path []string, out []apperr.FieldError) []apperr.FieldError {
	if len(out) >= maxFieldErrors {
		return out
	}
	if isLeaf(t) {
		if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
			fe := leafFieldError(err, t)
			fe.Loc = append([]string(nil), path...)
			out = append(out, fe)
		}
		return out
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	first := firstNonSpace(data)
	if first < 0 || bytes.HasPrefix(data[first:], []byte("null")) {
		return out // null leaves a composite unchanged
	}
	c := data[first]
	switch t.Kind() {
	case reflect.Struct:
		if c != '{' {
			return append(out, typeFieldError(path, "dict_type", "Input should be a valid object"))
		}
		fields := cachedFields(t)
		_ = eachMember(data, func(key string, raw []byte) {
			f := fields.match(key)
			switch {
			case f == nil:
			case f.asString:
				out = locateString(raw, f.typ, appendPath(path, f.name), out)
			default:
				out = locate(raw, f.typ, appendPath(path, f.name), out)
			}
		})
	case reflect.Map:
		if c != '{' {
			return append(out, typeFieldError(path, "dict_type", "Input should be a valid object"))
		}
		_ = eachMember(data, func(key string, raw []byte) {
			out = locate(raw, t.Elem(), appendPath(path, key), out)
		})
	case reflect.Slice, reflect.Array:
		if c != '[' {
			return append(out, typeFieldError(path, "list_type", "Input should be a valid list"))
		}
		i := 0
		_ = eachElement(data, func(raw []byte) {
			if t.Kind() == reflect.Array && i >= t.Len() {
				return // encoding/json ignores extra elements
			}
			out = locate(raw, t.Elem(), appendPath(path, strconv.Itoa(i)), out)
			i++
		})
	}
	return out
}

// locateString checks a field tagged `json:",string"` by decoding it exactly
// as encoding/json would, through a one-field struct with the same option.
func locateString(data []byte, t reflect.Type, path []string, out []apperr.FieldError) []apperr.FieldError {
	st := reflect.StructOf([]reflect.StructField{{Name: "V", Type: t, Tag: `json:"v,string"`}})
	wrapped := make([]byte, 0, len(data)+6)
	wrapped = append(append(append(wrapped, `{"v":`...), data...), '}')
	if err := json.Unmarshal(wrapped, reflect.New(st).Interface()); err != nil {
		fe := leafFieldError(err, t)
		var ae *apperr.Error
		if !errors.As(err, &ae) {
			// encoding/json's errors for the option differ between Go
			// versions (a type error or a message): one answer for all.
			fe = apperr.FieldError{Msg: "Input is not a valid value", Type: "value_error"}
		}
		fe.Loc = append([]string(nil), path...)
		out = append(out, fe)
	}
	return out
}

func appendPath(path []string, elem string) []string {
	p := make([]string, len(path), len(path)+1)
	copy(p, path)
	return append(p, elem)
}

func typeFieldError(path []string, typ, msg string) apperr.FieldError {
	return apperr.FieldError{Loc: append([]string(nil), path...), Msg: msg, Type: typ}
}

// eachMember calls fn for each member of the JSON object data, in order.
func eachMember(data []byte, fn func(key string, raw []byte)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{'
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		fn(key, raw)
	}
	return nil
}

// eachElement calls fn for each element of the JSON array data, in order.
func eachElement(data []byte, fn func(raw []byte)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '['
		return err
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		fn(raw)
	}
	return nil
}

// leafFieldError describes the failure to decode one value into type t
// (t may be nil when unknown). Loc is left for the caller.
func leafFieldError(err error, t reflect.Type) apperr.FieldError {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind == apperr.Invalid {
		if len(ae.Fields) > 0 && ae.Fields[0].Msg != "" {
			typ := ae.Fields[0].Type
			if typ == "" {
				typ = "value_error"
			}
			return apperr.FieldError{Msg: ae.Fields[0].Msg, Type: typ}
		}
		return apperr.FieldError{Msg: ae.Message, Type: "value_error"}
	}
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	if errors.As(err, &pe) || (t != nil && derefType(t) == timeType) ||
		(errors.As(err, &te) && te.Type != nil && derefType(te.Type) == timeType) {
		return apperr.FieldError{Msg: "Input should be a valid RFC 3339 date-time", Type: "datetime_parsing"}
	}
	if te != nil {
		return typeErrorField(te)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json:") || msg == "" {
		// encoding/json's own messages name Go types: keep them out of responses.
		msg = "Input is not a valid value"
	}
	return apperr.FieldError{Msg: msg, Type: "value_error"}
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// typeErrorField maps a JSON value of the wrong type to a pydantic-style error.
func typeErrorField(te *json.UnmarshalTypeError) apperr.FieldError {
	if te.Type == nil {
		return apperr.FieldError{Msg: "Input has the wrong type", Type: "type_error"}
	}
	switch derefType(te.Type).Kind() {
	case reflect.String:
		return apperr.FieldError{Msg: "Input should be a valid string", Type: "string_type"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		num, isNum := strings.CutPrefix(te.Value, "number ")
		switch {
		case isNum && strings.ContainsAny(num, ".eE"):
			return apperr.FieldError{Msg: "Input should be a valid integer, got a number with a fractional part", Type: "int_from_float"}
		case isNum:
			return apperr.FieldError{Msg: "Input should be a valid integer within range", Type: "int_parsing"}
		default:
			return apperr.FieldError{Msg: "Input should be a valid integer", Type: "int_type"}
		}
	case reflect.Float32, reflect.Float64:
		return apperr.FieldError{Msg: "Input should be a valid number", Type: "float_type"}
	case reflect.Bool:
		return apperr.FieldError{Msg: "Input should be a valid boolean", Type: "bool_type"}
	case reflect.Slice, reflect.Array:
		return apperr.FieldError{Msg: "Input should be a valid list", Type: "list_type"}
	case reflect.Map, reflect.Struct:
		return apperr.FieldError{Msg: "Input should be a valid object", Type: "dict_type"}
	default:
		return apperr.FieldError{Msg: "Input has the wrong type", Type: "type_error"}
	}
}

// jsonField is one decodable field of a struct, as encoding/json sees it.
type jsonField struct {
	name      string
	index     []int
	typ       reflect.Type
	tagged    bool
	omitEmpty bool
	doc       string
	format    string
	asString  bool
}

type structFields struct {
	list   []jsonField
	byName map[string]*jsonField
}

// match finds the field for a JSON key the way encoding/json does: an exact
// name first, then a case-insensitive one.
func (s *structFields) match(key string) *jsonField {
	if f, ok := s.byName[key]; ok {
		return f
	}
	for i := range s.list {
		if strings.EqualFold(s.list[i].name, key) {
			return &s.list[i]
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type -> *structFields

func cachedFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.(*structFields)
}

// typeFields lists the JSON fields of struct type t following encoding/json's
// rules: json tags name fields, "-" skips, unexported fields are skipped,
// fields of embedded structs without a name tag are promoted, and among
// fields with the same name the shallowest wins, then a tagged one; an
// unresolved tie hides the name.
func typeFields(t reflect.Type) *structFields {
	type cand struct {
		f     jsonField
		depth int
	}
	var cands []cand
	type level struct {
		t     reflect.Type
		index []int
	}
	visited := map[reflect.Type]bool{}
	current := []level{{t: t}}
	for depth := 0; len(current) > 0; depth++ {
		var next []level
		for _, lv := range current {
			if visited[lv.t] {
				continue
			}
			visited[lv.t] = true
			for i := 0; i < lv.t.NumField(); i++ {
				sf := lv.t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				ft := sf.Type
				if sf.Anonymous {
					et := ft
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
					if name == "" && et.Kind() == reflect.Struct {
						next = append(next, level{t: et, index: appendIndex(lv.index, i)})
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tagged := name != ""
				if !tagged {
					name = sf.Name
				}
				f := jsonField{name: name, index: appendIndex(lv.index, i), typ: ft, tagged: tagged,
					doc: sf.Tag.Get("doc"), format: sf.Tag.Get("format")}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.omitEmpty = true
					case "string":
						switch derefType(ft).Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
							reflect.Float32, reflect.Float64, reflect.String:
							f.asString = true
						}
					}
				}
				cands = append(cands, cand{f: f, depth: depth})
			}
		}
		current = next
	}
	// Resolve names: shallowest, then tagged; ties hide the name.
	type best struct {
		c     cand
		count int
	}
	byName := map[string]*best{}
	var order []string
	for _, c := range cands {
		b, ok := byName[c.f.name]
		switch {
		case !ok:
			byName[c.f.name] = &best{c: c, count: 1}
			order = append(order, c.f.name)
		case c.depth < b.c.depth || (c.depth == b.c.depth && c.f.tagged && !b.c.f.tagged):
			b.c, b.count = c, 1
		case c.depth == b.c.depth && c.f.tagged == b.c.f.tagged:
			b.count++
		}
	}
	s := &structFields{byName: map[string]*jsonField{}}
	for _, name := range order {
		if b := byName[name]; b.count == 1 {
			s.list = append(s.list, b.c.f)
		}
	}
	// Keep declaration order (encoding/json sorts by index sequence).
	slices.SortStableFunc(s.list, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	for i := range s.list {
		s.byName[s.list[i].name] = &s.list[i]
	}
	return s
}

func appendIndex(index []int, i int) []int {
	out := make([]int, len(index), len(index)+1)
	copy(out, index)
	return append(out, i)
}
