package httpapi

import (
	"encoding"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JSONSchemaer is implemented by types that describe their own JSON Schema
// (e.g. the decimal type: a string or number). The schema is used verbatim.
type JSONSchemaer interface {
	JSONSchema() map[string]any
}

// Enumer is implemented by string types with a closed set of values; they
// are documented as {"type":"string","enum":[...]}.
type Enumer interface {
	Enum() []string
}

var (
	schemaerType       = reflect.TypeFor[JSONSchemaer]()
	enumerType         = reflect.TypeFor[Enumer]()
	marshalerType      = reflect.TypeFor[json.Marshaler]()
	textMarshalerType  = reflect.TypeFor[encoding.TextMarshaler]()
	rawMessageType     = reflect.TypeFor[json.RawMessage]()
	durationType       = reflect.TypeFor[time.Duration]()
	componentNameRegex = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// Names of the shared components.
const (
	schemaError           = "Error"
	schemaValidationError = "ValidationError"
	schemaFieldError      = "FieldError"
	securityBearer        = "bearerAuth"
)

// methodOf calls the method of an interface implemented by t or *t on a zero value.
func methodOf[T any](t reflect.Type, it reflect.Type) (T, bool) {
	var zero T
	switch {
	case t.Implements(it):
		if t.Kind() == reflect.Pointer {
			return reflect.New(t.Elem()).Interface().(T), true
		}
		return reflect.Zero(t).Interface().(T), true
	case reflect.PointerTo(t).Implements(it):
		return reflect.New(t).Interface().(T), true
	}
	return zero, false
}

// enumValues returns the values of a type implementing Enumer.
func enumValues(t reflect.Type) ([]string, bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	e, ok := methodOf[Enumer](t, enumerType)
	if !ok {
		return nil, false
	}
	return e.Enum(), true
}

// schemaGen builds JSON Schemas for Go types, collecting named types as
// components.
type schemaGen struct {
	components map[string]any
	names      map[reflect.Type]string
}

func newSchemaGen() *schemaGen {
	return &schemaGen{components: map[string]any{}, names: map[reflect.Type]string{}}
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// nullable makes s also accept null: type: [T, "null"] when s has a single
// type, else anyOf [s, {"type":"null"}].
func nullable(s map[string]any) map[string]any {
	if t, ok := s["type"].(string); ok && s["$ref"] == nil {
		out := maps.Clone(s)
		out["type"] = []any{t, "null"}
		if e, ok := out["enum"].([]any); ok {
			out["enum"] = append(slices.Clone(e), nil)
		}
		return out
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// schema returns the schema of t (a $ref for named structs and enums).
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		return nullable(g.schema(t.Elem()))
	}
	if s, ok := methodOf[JSONSchemaer](t, schemaerType); ok {
		return maps.Clone(s.JSONSchema())
	}
	if vals, ok := enumValues(t); ok && t.Name() != "" {
		return g.component(t, func() map[string]any {
			enum := make([]any, len(vals))
			for i, v := range vals {
				enum[i] = v
			}
			return map[string]any{"type": "string", "enum": enum}
		})
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawMessageType:
		return map[string]any{}
	case durationType:
		return map[string]any{"type": "integer", "format": "int64", "description": "nanoseconds"}
	}
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return map[string]any{} // a custom encoding we cannot see: any value
	}
	if t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		return g.component(t, func() map[string]any { return g.structSchema(t) })
	default: // interfaces, funcs, channels: any value
		return map[string]any{}
	}
}

// component registers named type t as a component (once) and returns its $ref.
func (g *schemaGen) component(t reflect.Type, build func() map[string]any) map[string]any {
	if name, ok := g.names[t]; ok {
		return ref(name)
	}
	name := g.uniqueName(t)
	g.names[t] = name
	g.components[name] = map[string]any{} // placeholder for recursive types
	g.components[name] = build()
	return ref(name)
}

// uniqueName is t's name made a valid component key, prefixed with its
// package name when two types share a name.
func (g *schemaGen) uniqueName(t reflect.Type) string {
	base := t.Name()
	if i := strings.IndexByte(base, '['); i >= 0 { // generic: Page[pkg/path.Order] -> Page_Order
		args := strings.Split(strings.TrimSuffix(base[i+1:], "]"), ",")
		for k, a := range args {
			if j := strings.LastIndexAny(a, "./"); j >= 0 {
				args[k] = a[j+1:]
			}
		}
		base = base[:i] + "_" + strings.Join(args, "_")
	}
	base = componentNameRegex.ReplaceAllString(base, "_")
	name := base
	if _, taken := g.components[name]; taken {
		pkg := t.PkgPath()
		if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
			pkg = pkg[i+1:]
		}
		name = componentNameRegex.ReplaceAllString(pkg, "_") + "." + base
		for n := 2; ; n++ {
			if _, taken := g.components[name]; !taken {
				break
			}
			name = base + strconv.Itoa(n)
		}
	}
	return name
}

// structSchema is the object schema of struct type t by its json fields:
// fields without omitempty/omitzero are required.
func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	var props orderedProps
	required := []any{}
	for _, f := range cachedFields(t).list {
		var s map[string]any
		if f.asString {
			s = map[string]any{"type": "string"}
			if f.typ.Kind() == reflect.Pointer {
				s = nullable(s)
			}
		} else {
			s = g.schema(f.typ)
		}
		if f.doc != "" || f.format != "" {
			if _, isRef := s["$ref"]; isRef || s["anyOf"] != nil {
				s = map[string]any{"allOf": []any{s}} // siblings of $ref are ignored by some tools
			} else {
				s = maps.Clone(s)
			}
			if f.doc != "" {
				s["description"] = f.doc
			}
			if f.format != "" {
				s["format"] = f.format
			}
		}
		props = append(props, prop{f.name, s})
		if !f.omitEmpty {
			required = append(required, f.name)
		}
	}
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// prop is one property of an object schema.
type prop struct {
	name   string
	schema map[string]any
}

// orderedProps encodes as a JSON object whose members keep the declaration
// order of the struct fields (a Go map would sort them), so documentation
// shows fields as the code declares them.
type orderedProps []prop

// MarshalJSON implements json.Marshaler.
func (ps orderedProps) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, p := range ps {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, err := json.Marshal(p.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(p.schema)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}

// errorComponents adds the two error shapes of docs/api.md.
func (g *schemaGen) errorComponents() {
	g.components[schemaError] = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"detail": map[string]any{"type": "string", "description": "human-readable message"},
			"code":   map[string]any{"type": "string", "description": "error kind, e.g. bad_request, not_found, conflict, insufficient_funds"},
		},
		"required": []any{"detail", "code"},
	}
	g.components[schemaFieldError] = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"loc":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": `where: ["body", field...], ["query", name] or ["path", name]`},
			"msg":  map[string]any{"type": "string"},
			"type": map[string]any{"type": "string", "description": "error type, e.g. missing, json_invalid, string_type, value_error"},
		},
		"required": []any{"loc", "msg", "type"},
	}
	g.components[schemaValidationError] = map[string]any{
		"type":        "object",
		"description": "field validation errors (detail is a list), or another 422 such as insufficient_funds (detail is a string)",
		"properties": map[string]any{
			"detail": map[string]any{"oneOf": []any{
				map[string]any{"type": "array", "items": ref(schemaFieldError)},
				map[string]any{"type": "string"},
			}},
			"code": map[string]any{"type": "string"},
		},
		"required": []any{"detail", "code"},
	}
}

var pathParamRegex = regexp.MustCompile(`\{([^}.$]+)(\.\.\.)?\}`)

// buildSpec renders the OpenAPI 3.1 document of ops.
func buildSpec(opts Options, ops []Op) []byte {
	g := newSchemaGen()
	g.errorComponents()
	paths := map[string]any{}
	for _, op := range ops {
		p, _ := paths[openAPIPath(op.Path)].(map[string]any)
		if p == nil {
			p = map[string]any{}
			paths[openAPIPath(op.Path)] = p
		}
		p[strings.ToLower(op.Method)] = g.operation(op)
	}
	info := map[string]any{"title": opts.Title, "version": opts.Version}
	if opts.Description != "" {
		info["description"] = opts.Description
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    info,
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				securityBearer: map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
	}
	if len(opts.Servers) > 0 {
		servers := make([]any, len(opts.Servers))
		for i, s := range opts.Servers {
			servers[i] = map[string]any{"url": s}
		}
		doc["servers"] = servers
	}
	b, err := json.Marshal(doc)
	if err != nil { // only maps, slices and strings: cannot fail
		panic("httpapi: encode OpenAPI document: " + err.Error())
	}
	return b
}

// openAPIPath turns ServeMux wildcards into OpenAPI templates:
// "{id...}" -> "{id}", "{$}" dropped.
func openAPIPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return strings.ReplaceAll(p, "...}", "}")
}

func (g *schemaGen) operation(op Op) map[string]any {
	o := map[string]any{"operationId": op.OperationID}
	if op.Summary != "" {
		o["summary"] = op.Summary
	}
	desc := op.Description
	if op.Auth == AuthAdmin {
		desc = strings.TrimSpace(desc + "\n\nRequires the admin role.")
	}
	if desc != "" {
		o["description"] = desc
	}
	if len(op.Tags) > 0 {
		o["tags"] = op.Tags
	}
	params := g.parameters(op)
	if len(params) > 0 {
		o["parameters"] = params
	}
	reqType := typeOf(op.Request)
	if reqType != nil {
		o["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(derefType(reqType))}},
		}
	}
	responses := map[string]any{}
	success := map[string]any{"description": http.StatusText(op.Status)}
	if rt := typeOf(op.Response); rt != nil && bodyAllowed(op.Status) {
		success["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(derefType(rt))}}
	}
	responses[strconv.Itoa(op.Status)] = success
	errs := slices.Clone(op.Errors)
	if op.Auth != AuthNone {
		errs = append(errs, http.StatusUnauthorized)
		o["security"] = []any{map[string]any{securityBearer: []any{}}}
		o["x-auth"] = op.Auth.String()
	}
	if op.Auth == AuthAdmin {
		errs = append(errs, http.StatusForbidden)
	}
	if reqType != nil {
		errs = append(errs, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	}
	if reqType != nil || len(params) > 0 {
		errs = append(errs, http.StatusUnprocessableEntity)
	}
	for _, code := range errs {
		name := schemaError
		if code == http.StatusUnprocessableEntity {
			name = schemaValidationError
		}
		responses[strconv.Itoa(code)] = map[string]any{
			"description": http.StatusText(code),
			"content":     map[string]any{"application/json": map[string]any{"schema": ref(name)}},
		}
	}
	o["responses"] = responses
	return o
}

// parameters documents path wildcards, query fields and headers.
func (g *schemaGen) parameters(op Op) []any {
	var params []any
	pathDocs := map[string]reflect.StructField{}
	if t := typeOf(op.PathParams); t != nil {
		visitFields(derefType(t), nil, func(sf reflect.StructField, _ []int) {
			if name := sf.Tag.Get("path"); name != "" {
				pathDocs[name] = sf
			}
		})
	}
	for _, m := range pathParamRegex.FindAllStringSubmatch(op.Path, -1) {
		s := map[string]any{"type": "string"}
		p := map[string]any{"name": m[1], "in": "path", "required": true, "schema": s}
		if sf, ok := pathDocs[m[1]]; ok {
			s = g.schema(sf.Type)
			if pat := sf.Tag.Get("pattern"); pat != "" {
				s = maps.Clone(s)
				s["pattern"] = pat
			}
			p["schema"] = s
			if d := sf.Tag.Get("doc"); d != "" {
				p["description"] = d
			}
		}
		params = append(params, p)
	}
	if t := typeOf(op.Query); t != nil {
		for _, f := range queryFields(derefType(t)) {
			s := g.querySchema(f)
			p := map[string]any{"name": f.name, "in": "query", "required": f.required, "schema": s}
			if f.doc != "" {
				p["description"] = f.doc
			}
			params = append(params, p)
		}
	}
	for _, h := range op.Headers {
		p := map[string]any{"name": h.Name, "in": "header", "required": h.Required, "schema": map[string]any{"type": "string"}}
		if h.Description != "" {
			p["description"] = h.Description
		}
		params = append(params, p)
	}
	return params
}

// querySchema is the schema of a query field (see DecodeQuery), with its
// bounds, enum and default.
func (g *schemaGen) querySchema(f queryField) map[string]any {
	t := derefType(f.typ)
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		s = map[string]any{"type": "integer"}
	default:
		s = map[string]any{"type": "string"}
	}
	if len(f.enum) > 0 {
		enum := make([]any, len(f.enum))
		for i, e := range f.enum {
			enum[i] = e
		}
		s["enum"] = enum
	}
	if f.hasMin {
		s["minimum"] = f.min
	}
	if f.hasMax {
		s["maximum"] = f.max
	}
	if f.maxLength > 0 {
		s["maxLength"] = f.maxLength
	}
	if f.def != "" {
		switch s["type"] {
		case "integer":
			if n, err := strconv.ParseInt(f.def, 10, 64); err == nil {
				s["default"] = n
			}
		case "boolean":
			if b, ok := parseBool(f.def); ok {
				s["default"] = b
			}
		default:
			s["default"] = f.def
		}
	}
	return s
}
