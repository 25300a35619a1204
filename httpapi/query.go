package httpapi

import (
	"encoding"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// queryValue returns the first value of query parameter name and whether it
// is present, without building the whole url.Values map.
func queryValue(r *http.Request, name string) (string, bool) {
	q := r.URL.RawQuery
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			uk, err := url.QueryUnescape(k)
			if err != nil || uk != name {
				continue
			}
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return v, true // reported by the caller as an invalid value
		}
		return uv, true
	}
	return "", false
}

// queryError is the 422 for query parameter name.
func queryError(name, msg, typ string) *apperr.Error {
	return &apperr.Error{Kind: apperr.Invalid, Message: "invalid query parameter " + name + ": " + msg,
		Fields: []apperr.FieldError{{Loc: []string{"query", name}, Msg: msg, Type: typ}}}
}

func checkRange(name string, n, min, max int64, hasMin, hasMax bool) error {
	if hasMin && n < min {
		return queryError(name, "Input should be greater than or equal to "+strconv.FormatInt(min, 10), "greater_than_equal")
	}
	if hasMax && n > max {
		return queryError(name, "Input should be less than or equal to "+strconv.FormatInt(max, 10), "less_than_equal")
	}
	return nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, true
	case "0", "false", "f", "no", "n", "off":
		return false, true
	}
	return false, false
}

func enumList(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = "'" + a + "'"
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// queryField is one field of a query struct (see DecodeQuery).
type queryField struct {
	name      string
	index     []int        // field index path (through embedded structs)
	typ       reflect.Type // field type
	doc       string
	def       string
	hasMin    bool
	min       int64
	hasMax    bool
	max       int64
	maxLength int
	enum      []string
	required  bool
}

var queryCache sync.Map // reflect.Type -> []queryField or error panic

// queryFields describes the query struct type t; it panics on a struct that
// DecodeQuery cannot fill (a programming error found at registration).
func queryFields(t reflect.Type) []queryField {
	if v, ok := queryCache.Load(t); ok {
		return v.([]queryField)
	}
	if t.Kind() != reflect.Struct {
		panic("httpapi: query type " + t.String() + " is not a struct")
	}
	var fs []queryField
	visitFields(t, nil, func(sf reflect.StructField, index []int) {
		name := sf.Tag.Get("query")
		if name == "" || name == "-" {
			return
		}
		f := queryField{name: name, index: index, typ: sf.Type, doc: sf.Tag.Get("doc"), def: sf.Tag.Get("default"),
			required: sf.Tag.Get("required") == "true"}
		if !queryKindOK(sf.Type) {
			panic("httpapi: query field " + t.String() + "." + sf.Name + " has unsupported type " + sf.Type.String())
		}
		if s := sf.Tag.Get("minimum"); s != "" {
			f.hasMin, f.min = true, mustInt(t, sf, s)
		}
		if s := sf.Tag.Get("maximum"); s != "" {
			f.hasMax, f.max = true, mustInt(t, sf, s)
		}
		if s := sf.Tag.Get("maxLength"); s != "" {
			f.maxLength = int(mustInt(t, sf, s))
		}
		if s := sf.Tag.Get("enum"); s != "" {
			f.enum = strings.Split(s, ",")
		} else if e, ok := enumValues(sf.Type); ok {
			f.enum = e
		}
		fs = append(fs, f)
	})
	v, _ := queryCache.LoadOrStore(t, fs)
	return v.([]queryField)
}

func mustInt(t reflect.Type, sf reflect.StructField, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("httpapi: bad number tag on " + t.String() + "." + sf.Name + ": " + s)
	}
	return n
}

func queryKindOK(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// DecodeQuery fills the struct pointed to by dst from the query string. Each
// exported field with a `query:"name"` tag is one parameter; the same tags
// document it in the OpenAPI document (Op.Query):
//
//	query:"limit"          parameter name (required to take part)
//	doc:"..."              description
//	default:"50"           value used when the parameter is absent or empty
//	minimum:"1" maximum:"250"   integer bounds (inclusive)
//	maxLength:"64"         string length bound, in bytes
//	enum:"a,b,c"           allowed values (or the field type's Enum() []string)
//	required:"true"        absent or empty is an error ("missing")
//
// The fields of an exported embedded struct (an anonymous struct field
// without a tag) take part as if they were dst's own.
// Field types: string, bool, int kinds, time.Time (RFC 3339), types whose
// pointer implements encoding.TextUnmarshaler, and pointers to these (left
// nil when absent and no default). Every invalid parameter is reported in
// one Invalid error with loc ["query", name] per parameter.
func DecodeQuery(r *http.Request, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return apperr.New(apperr.Internal, "httpapi: DecodeQuery needs a pointer to a struct, got %T", dst)
	}
	sv := rv.Elem()
	var fields []apperr.FieldError
	for _, f := range queryFields(sv.Type()) {
		s, ok := queryValue(r, f.name)
		if !ok || s == "" {
			if f.required {
				fields = append(fields, apperr.FieldError{Loc: []string{"query", f.name}, Msg: "Field required", Type: "missing"})
				continue
			}
			if f.def == "" {
				continue
			}
			s = f.def
		}
		if err := setQueryField(sv.FieldByIndex(f.index), &f, s); err != nil {
			fields = append(fields, apperr.FieldsOf(err)...)
		}
	}
	if len(fields) > 0 {
		return &apperr.Error{Kind: apperr.Invalid, Message: "invalid query parameters", Fields: fields}
	}
	return nil
}

func setQueryField(v reflect.Value, f *queryField, s string) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := setQueryField(p.Elem(), f, s); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if len(f.enum) > 0 && !slices.Contains(f.enum, s) {
		return queryError(f.name, "Input should be "+enumList(f.enum), "enum")
	}
	if v.Type() == timeType {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return queryError(f.name, "Input should be a valid RFC 3339 date-time", "datetime_parsing")
		}
		v.Set(reflect.ValueOf(t))
		return nil
	}
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := tu.UnmarshalText([]byte(s)); err != nil {
			fe := leafFieldError(err, v.Type())
			return queryError(f.name, fe.Msg, fe.Type)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if f.maxLength > 0 && len(s) > f.maxLength {
			return queryError(f.name, "String should have at most "+strconv.Itoa(f.maxLength)+" characters", "string_too_long")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			return queryError(f.name, "Input should be a valid boolean, unable to interpret input", "bool_parsing")
		}
		v.SetBool(b)
	default: // int kinds (queryKindOK)
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return queryError(f.name, "Input should be a valid integer, unable to parse string as an integer", "int_parsing")
		}
		if err := checkRange(f.name, n, f.min, f.max, f.hasMin, f.hasMax); err != nil {
			return err
		}
		v.SetInt(n)
	}
	return nil
}
