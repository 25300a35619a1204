package httpapi

import (
	"encoding"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Responder is implemented by the results of typed handlers (Handle) that
// write their own answer instead of being written as JSON: a stored
// idempotent replay, a stream, a body that is not JSON. status is the
// operation's success status (Op.Status). WriteResponse is called on a
// pointer to the result, so either receiver kind implements it.
type Responder interface {
	WriteResponse(w http.ResponseWriter, r *http.Request, status int)
}

// HandleOption adjusts a typed handler (Handle).
type HandleOption func(*handleOptions)

type handleOptions struct {
	rejected func(r *http.Request, err error)
}

// OnRejected calls fn with the error of every request refused before the
// handler runs (a path parameter, query or body that does not decode),
// just before the error is answered: for metrics of the operation's
// outcomes.
func OnRejected(fn func(r *http.Request, err error)) HandleOption {
	return func(o *handleOptions) { o.rejected = fn }
}

// Handle registers op on a with the typed handler h: each request is
// decoded into a new In, h is called with it, and its result or error is
// answered in one place.
//
// In is a struct whose fields declare the request:
//
//	path:"name"    a path wildcard of op.Path (every wildcard needs one);
//	               a string, or a type whose pointer implements
//	               encoding.TextUnmarshaler (its error is the answer, as
//	               for a query parameter); doc:"..." documents it, and
//	               pattern:"..." documents it and, on a string field, is
//	               checked (422 "string_pattern_mismatch")
//	query:"name"   a query parameter, with the tags of DecodeQuery
//	Body           the field named Body is the JSON body (DecodeJSON,
//	               FastDecoder included)
//
// Fields of exported embedded structs (anonymous fields without a tag)
// count as In's own, so parameter types can be shared (struct{ OrderPath }).
// struct{} declares no input. A request is decoded path first, then query,
// then body; the first part that fails is answered with its error (422 with
// loc ["path", name], ["query", name] or ["body", ...], 400 or 413), and h
// is not called.
//
// h's error is answered with WriteError (with the headers of WithHeader).
// Its result is answered by WriteResponse when *Out implements Responder,
// else as JSON with op.Status (WriteJSON, JSONAppender included).
//
// op.Request, op.Query and op.PathParams are derived from In, and
// op.Response from Out when Out is not a Responder (a Responder's
// documented body is op.Response as declared). Handle panics, like
// API.Handle, on an In it cannot decode, a path wildcard without a field
// or a field without a wildcard, and a declared type that differs from the
// derived one.
func Handle[In, Out any](a *API, op Op, h func(r *http.Request, in *In) (Out, error), opts ...HandleOption) {
	var o handleOptions
	for _, opt := range opts {
		opt(&o)
	}
	if h == nil {
		panic("httpapi: operation " + op.OperationID + " has a nil handler")
	}
	in := inputOf(reflect.TypeFor[In](), op)
	in.declare(&op)
	outType := reflect.TypeFor[Out]()
	pointerOut := outType.Kind() == reflect.Pointer || outType.Kind() == reflect.Interface
	if !outType.Implements(responderType) && !reflect.PointerTo(outType).Implements(responderType) {
		op.Response = checkDeclared(op, "Response", op.Response, outType)
	}
	status := op.Status
	if status == 0 {
		status = http.StatusOK
	}
	decode := func(w http.ResponseWriter, r *http.Request) (*In, bool) {
		v := new(In)
		if err := in.decode(r, reflect.ValueOf(v).Elem()); err != nil {
			if o.rejected != nil {
				o.rejected(r, err)
			}
			WriteError(w, r, err)
			return nil, false
		}
		return v, true
	}
	// Two copies of the same steps: a result that is a pointer is answered
	// as it is; any other is answered through its address (one allocation,
	// the one that putting it in an interface would cost).
	if pointerOut {
		a.Handle(op, func(w http.ResponseWriter, r *http.Request) {
			v, ok := decode(w, r)
			if !ok {
				return
			}
			out, err := h(r, v)
			if err != nil {
				WriteError(w, r, err)
				return
			}
			respond(w, r, status, out)
		})
		return
	}
	a.Handle(op, func(w http.ResponseWriter, r *http.Request) {
		v, ok := decode(w, r)
		if !ok {
			return
		}
		out, err := h(r, v)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		respond(w, r, status, &out)
	})
}

var responderType = reflect.TypeFor[Responder]()

// respond answers a typed handler's result.
func respond(w http.ResponseWriter, r *http.Request, status int, out any) {
	if rs, ok := out.(Responder); ok {
		rs.WriteResponse(w, r, status)
		return
	}
	WriteJSON(w, status, out)
}

// checkDeclared returns the type an Op field denotes: derived when the Op
// leaves it nil; a declared type must be the derived one (pointers aside).
func checkDeclared(op Op, field string, declared any, derived reflect.Type) any {
	if declared == nil {
		if derived == nil {
			return nil
		}
		return derived
	}
	if dt := typeOf(declared); derived == nil || derefType(dt) != derefType(derived) {
		panic(fmt.Sprintf("httpapi: operation %s declares %s %v, but its handler uses %v", op.OperationID, field, dt, derived))
	}
	return declared
}

// input is how requests are decoded into one In type.
type input struct {
	typ   reflect.Type
	path  []pathField
	query bool  // has query fields (queryFields(typ))
	body  []int // index of the Body field; nil for none
	bodyT reflect.Type
}

// pathField is one `path` field of an input.
type pathField struct {
	name    string
	index   []int
	text    bool // *T implements encoding.TextUnmarshaler
	pattern *regexp.Regexp
}

// inputOf describes In for op, panicking on what it cannot decode.
func inputOf(t reflect.Type, op Op) *input {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("httpapi: operation %s: input %v is not a struct", op.OperationID, t))
	}
	in := &input{typ: t, query: len(queryFields(t)) > 0}
	visitFields(t, nil, func(sf reflect.StructField, index []int) {
		name := sf.Tag.Get("path")
		switch {
		case name != "" && name != "-":
			f := pathField{name: name, index: index, text: reflect.PointerTo(sf.Type).Implements(textUnmarshalerType)}
			if !f.text && sf.Type.Kind() != reflect.String {
				panic(fmt.Sprintf("httpapi: operation %s: path field %s has unsupported type %v", op.OperationID, sf.Name, sf.Type))
			}
			if p := sf.Tag.Get("pattern"); p != "" && !f.text {
				f.pattern = regexp.MustCompile(p)
			}
			in.path = append(in.path, f)
		case sf.Name == "Body" && len(index) == 1:
			in.body, in.bodyT = index, sf.Type
		}
	})
	var wildcards, fields []string
	for _, m := range pathParamRegex.FindAllStringSubmatch(op.Path, -1) {
		wildcards = append(wildcards, m[1])
	}
	for _, f := range in.path {
		fields = append(fields, f.name)
	}
	slices.Sort(wildcards)
	slices.Sort(fields)
	if !slices.Equal(wildcards, fields) {
		panic(fmt.Sprintf("httpapi: operation %s: path %s has wildcards %v, its input path fields %v", op.OperationID, op.Path, wildcards, fields))
	}
	return in
}

// declare fills op's Request, Query and PathParams from the input,
// panicking on a declared type that differs.
func (in *input) declare(op *Op) {
	op.Request = checkDeclared(*op, "Request", op.Request, in.bodyT)
	var query, path reflect.Type
	if in.query {
		query = in.typ
	}
	if len(in.path) > 0 {
		path = in.typ
	}
	op.Query = checkParams(*op, "Query", op.Query, query, "query")
	op.PathParams = checkParams(*op, "PathParams", op.PathParams, path, "path")
}

// checkParams is checkDeclared for a parameter struct: a declared type must
// declare the same parameters, in the same order.
func checkParams(op Op, field string, declared any, derived reflect.Type, tag string) any {
	if declared == nil || derived == nil {
		return checkDeclared(op, field, declared, derived)
	}
	names := func(t reflect.Type) []string {
		var out []string
		visitFields(derefType(t), nil, func(sf reflect.StructField, _ []int) {
			if n := sf.Tag.Get(tag); n != "" && n != "-" {
				out = append(out, n)
			}
		})
		return out
	}
	if d, got := names(typeOf(declared)), names(derived); !slices.Equal(d, got) {
		panic(fmt.Sprintf("httpapi: operation %s declares %s parameters %v, but its handler's input has %v", op.OperationID, tag, d, got))
	}
	return derived
}

// decode fills v (an addressable In) from r: path, then query, then body.
func (in *input) decode(r *http.Request, v reflect.Value) error {
	if len(in.path) > 0 {
		if err := in.decodePath(r, v); err != nil {
			return err
		}
	}
	if in.query {
		if err := DecodeQuery(r, v.Addr().Interface()); err != nil {
			return err
		}
	}
	if in.body != nil {
		return DecodeJSON(r, v.FieldByIndex(in.body).Addr().Interface())
	}
	return nil
}

// decodePath sets the path fields of v, reporting every invalid one.
func (in *input) decodePath(r *http.Request, v reflect.Value) error {
	var fields []apperr.FieldError
	for i := range in.path {
		f := &in.path[i]
		s := r.PathValue(f.name)
		fv := v.FieldByIndex(f.index)
		if f.text {
			if err := fv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				fe := leafFieldError(err, fv.Type())
				fe.Loc = []string{"path", f.name}
				fields = append(fields, fe)
			}
			continue
		}
		if f.pattern != nil && !f.pattern.MatchString(s) {
			fields = append(fields, apperr.FieldError{Loc: []string{"path", f.name},
				Msg: "String should match pattern '" + f.pattern.String() + "'", Type: "string_pattern_mismatch"})
			continue
		}
		fv.SetString(s)
	}
	if len(fields) == 0 {
		return nil
	}
	msg := "invalid path parameters"
	if len(fields) == 1 {
		msg = "invalid path parameter " + fields[0].Loc[1] + ": " + fields[0].Msg
	}
	return &apperr.Error{Kind: apperr.Invalid, Message: msg, Fields: fields}
}

// visitFields calls fn with each exported field of struct t and its index
// path, descending into exported embedded structs (anonymous struct fields
// without a tag) instead of visiting them. Unexported embedded structs are
// skipped: reflection cannot set their fields.
func visitFields(t reflect.Type, index []int, fn func(sf reflect.StructField, index []int)) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		idx := append(slices.Clone(index), i)
		switch {
		case !sf.IsExported():
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct && sf.Tag == "":
			visitFields(sf.Type, idx, fn)
		default:
			fn(sf, idx)
		}
	}
}

// errHeader is an error answered with an extra response header.
type errHeader struct {
	err         error
	name, value string
}

func (e *errHeader) Error() string { return e.err.Error() }
func (e *errHeader) Unwrap() error { return e.err }

// WithHeader returns err with a response header that WriteError sets when
// it answers err, such as Retry-After with a 429 or 503. It wraps err: its
// kind and message are err's.
func WithHeader(err error, name, value string) error {
	return &errHeader{err: err, name: name, value: value}
}

// setErrorHeaders sets the headers that WithHeader attached to err.
func setErrorHeaders(w http.ResponseWriter, err error) {
	for err != nil {
		var eh *errHeader
		if !errors.As(err, &eh) {
			return
		}
		w.Header().Set(eh.name, eh.value)
		err = eh.err
	}
}
