package gateway

import (
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
)

// Access is the authentication a route requires.
type Access uint8

// Access levels. The zero value is not a level: every Route must say.
const (
	// Public routes need no token; a valid token, when present, still sets
	// the principal (an invalid one is ignored).
	Public Access = iota + 1
	// User routes need a valid, unrevoked token of any role.
	User
	// Admin routes need a valid, unrevoked token with the admin role.
	Admin
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case User:
		return "user"
	case Admin:
		return "admin"
	default:
		return fmt.Sprintf("Access(%d)", a)
	}
}

// Route classifies the requests of one method and path pattern.
//
// Method is an HTTP method ("GET" also matches HEAD) or "" for any method.
// Pattern is an absolute path of segments, each a literal or a parameter:
// "{name}" matches exactly one non-empty segment; "{name...}", allowed only
// last, matches one or more segments. "/" matches only the root. Patterns
// have no trailing slash: requests are normalised before matching (see
// New). When several routes match, the most specific wins: at the first
// segment where they differ, a literal beats "{name}", which beats
// "{name...}"; then a route with a method beats one without.
//
// The pattern is also the "route" label of metrics and access logs.
type Route struct {
	Method  string
	Pattern string
	Access  Access
}

// RouteTable is the gateway's list of routes. A request matching no route
// gets Config.UnmatchedAccess and the route label "unmatched"; the next
// handler answers it (typically 404 or 405).
type RouteTable []Route

type segKind uint8

const (
	segLiteral segKind = iota
	segParam
	segRest
)

type segment struct {
	kind segKind
	lit  string
}

// compiledRoute is a Route ready for matching; idx indexes the metric cache.
type compiledRoute struct {
	Route
	idx  int
	segs []segment
}

type router struct {
	routes []*compiledRoute
}

func compileRoutes(rt RouteTable, firstIdx int) (*router, error) {
	seen := make(map[string]bool, len(rt))
	rr := &router{}
	for i, r := range rt {
		if r.Access < Public || r.Access > Admin {
			return nil, fmt.Errorf("route %s %q: access level not set", r.Method, r.Pattern)
		}
		if r.Method != "" && (r.Method != strings.ToUpper(r.Method) || strings.ContainsAny(r.Method, " /")) {
			return nil, fmt.Errorf("route %s %q: method must be an upper-case HTTP method or empty", r.Method, r.Pattern)
		}
		segs, err := parsePattern(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("route %s %q: %w", r.Method, r.Pattern, err)
		}
		key := r.Method + " " + shapeOf(segs)
		if seen[key] {
			return nil, fmt.Errorf("route %s %q: duplicate of an earlier route", r.Method, r.Pattern)
		}
		seen[key] = true
		rr.routes = append(rr.routes, &compiledRoute{Route: r, idx: firstIdx + i, segs: segs})
	}
	sort.SliceStable(rr.routes, func(i, j int) bool { return moreSpecific(rr.routes[i], rr.routes[j]) })
	return rr, nil
}

// shapeOf identifies patterns that match the same paths ("/a/{x}" = "/a/{y}").
func shapeOf(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.lit)
		case segParam:
			b.WriteString("{}")
		case segRest:
			b.WriteString("{...}")
		}
	}
	return b.String()
}

func moreSpecific(a, b *compiledRoute) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.Method != "" && b.Method == ""
}

func parsePattern(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("pattern must start with /")
	}
	if p == "/" {
		return nil, nil
	}
	if path.Clean(p) != p {
		return nil, fmt.Errorf("pattern must be a clean path without a trailing slash")
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, 0, len(parts))
	names := map[string]bool{}
	for i, s := range parts {
		if !strings.HasPrefix(s, "{") {
			if strings.ContainsAny(s, "{}") {
				return nil, fmt.Errorf("segment %q mixes literal and parameter", s)
			}
			segs = append(segs, segment{kind: segLiteral, lit: s})
			continue
		}
		if !strings.HasSuffix(s, "}") {
			return nil, fmt.Errorf("segment %q: unterminated parameter", s)
		}
		name, kind := s[1:len(s)-1], segParam
		if n, ok := strings.CutSuffix(name, "..."); ok {
			if i != len(parts)-1 {
				return nil, fmt.Errorf("segment %q: {name...} must be last", s)
			}
			name, kind = n, segRest
		}
		if name == "" || strings.ContainsAny(name, "{}.") || names[name] {
			return nil, fmt.Errorf("segment %q: bad or repeated parameter name", s)
		}
		names[name] = true
		segs = append(segs, segment{kind: kind})
	}
	return segs, nil
}

// match returns the most specific route for method and a normalised path,
// or nil. It does not allocate.
func (rr *router) match(method, p string) *compiledRoute {
	for _, r := range rr.routes {
		if r.Method != "" && r.Method != method && !(r.Method == http.MethodGet && method == http.MethodHead) {
			continue
		}
		if matchSegs(r.segs, p) {
			return r
		}
	}
	return nil
}

func matchSegs(segs []segment, p string) bool {
	if p == "/" || p == "" {
		return len(segs) == 0
	}
	rest := p[1:] // p is normalised: starts with "/", no empty segments
	for i, s := range segs {
		if rest == "" {
			return false
		}
		if s.kind == segRest {
			return true
		}
		seg := rest
		next := ""
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, next = rest[:j], rest[j+1:]
			if next == "" { // trailing slash: not normalised
				return false
			}
		} else if i != len(segs)-1 {
			return false
		}
		if s.kind == segLiteral && s.lit != seg {
			return false
		}
		rest = next
	}
	return rest == ""
}

// normalizePath returns p cleaned: one leading slash, no empty, "." or
// ".." segments, no trailing slash (except the root). It does not allocate
// when p is already normal.
func normalizePath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return path.Clean(p) // drops a trailing slash; no allocation when p is clean
}
