package deploy

import (
	"encoding/json"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is one FROM and the instructions under it.
type stage struct {
	image, name string
	body        []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// parseDockerfile splits a Dockerfile into stages. The ARGs before the
// first FROM are substituted into the FROM lines with their defaults, as
// docker build does without --build-arg.
func parseDockerfile(text string) ([]stage, error) {
	var ins []instruction
	var cur strings.Builder
	for line := range strings.Lines(text) {
		l := strings.TrimSpace(line)
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasPrefix(l, "#") { // a comment inside a continued instruction
			continue
		}
		if more, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(strings.TrimSpace(more) + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	global := map[string]string{}
	var stages []stage
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(argRef.ReplaceAllStringFunc(in.args, func(ref string) string {
				name := argRef.FindStringSubmatch(ref)[1]
				if v, ok := global[name]; ok {
					return v
				}
				return ref // e.g. $BUILDPLATFORM, set by BuildKit
			}))
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
			st := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				return nil, &parseError{"FROM " + in.args}
			}
			stages = append(stages, st)
		case len(stages) == 0:
			if in.cmd != "ARG" {
				return nil, &parseError{in.cmd + " before the first FROM"}
			}
			name, def, _ := strings.Cut(in.args, "=")
			global[name] = def
		default:
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
		}
	}
	if len(stages) == 0 {
		return nil, &parseError{"no FROM"}
	}
	return stages, nil
}

type parseError struct{ what string }

func (e *parseError) Error() string { return "Dockerfile: cannot parse: " + e.what }

func readDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return stages
}

// dockerEntrypoint is the final stage's ENTRYPOINT (exec form).
func dockerEntrypoint(t *testing.T) []string {
	t.Helper()
	stages := readDockerfile(t)
	eps := stages[len(stages)-1].all("ENTRYPOINT")
	if len(eps) != 1 {
		t.Fatalf("Dockerfile: the final stage has %d ENTRYPOINTs, want 1", len(eps))
	}
	var ep []string
	if err := json.Unmarshal([]byte(eps[0].args), &ep); err != nil || len(ep) == 0 {
		t.Fatalf("Dockerfile: ENTRYPOINT %s is not in exec form (a JSON array): %v", eps[0].args, err)
	}
	return ep
}

var finalBase = regexp.MustCompile(`^(scratch|gcr\.io/distroless/static(-debian[0-9]+)?:nonroot)$`)

func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, runtime)", len(stages))
	}
	builder, final := stages[0], stages[1]
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	toolchain := regexp.MustCompile(`(?m)^toolchain go(1\.[0-9]+\.[0-9]+)$`).FindSubmatch(gomod)
	if toolchain == nil {
		t.Fatal("go.mod has no toolchain line (go1.X.Y)")
	}
	if want := "golang:" + string(toolchain[1]); builder.image != want {
		t.Errorf("build stage FROM %s, want %s (go.mod's toolchain)", builder.image, want)
	}
	if !finalBase.MatchString(final.image) {
		t.Errorf("final stage FROM %s, want distroless static (nonroot) or scratch", final.image)
	}

	// The binary: static, reproducible paths, no symbol tables.
	var goBuild string
	for _, r := range builder.all("RUN") {
		if strings.Contains(r.args, "go build") {
			goBuild = r.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "-o /out/orderprocessor", "./cmd/orderprocessor"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the go build RUN %q lacks %s", goBuild, want)
		}
	}

	// The runtime stage: the binary at the entrypoint's path, a non-root
	// numeric user (Kubernetes checks runAsNonRoot on numeric ids only), the
	// port, and `serve`.
	ep := dockerEntrypoint(t)
	if !slices.Equal(ep, []string{"/orderprocessor", "serve"}) {
		t.Errorf("ENTRYPOINT %q, want [/orderprocessor serve]", ep)
	}
	copied := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c.args)
		if slices.Contains(f, "--from="+builder.name) && f[len(f)-1] == ep[0] && f[len(f)-2] == "/out/orderprocessor" {
			copied = true
		}
	}
	if !copied {
		t.Errorf("the final stage does not COPY --from=%s /out/orderprocessor %s", builder.name, ep[0])
	}
	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("final stage: %d USER instructions, want 1", len(users))
	}
	uid, gid, _ := strings.Cut(users[0].args, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-zero uid", users[0].args)
	}
	if n, err := strconv.Atoi(gid); gid != "" && (err != nil || n == 0) {
		t.Errorf("USER %s: want a numeric non-zero gid", users[0].args)
	}
	// The manifests run the image as that user.
	for _, w := range workloads(set(build(t, k8sDir))) {
		if got := ptrOr(w.template.Spec.SecurityContext.RunAsUser, 0); strconv.FormatInt(got, 10) != uid {
			t.Errorf("%s: runAsUser %d, the image's USER is %s", w, got, uid)
		}
	}
	if ex := final.all("EXPOSE"); len(ex) != 1 || ex[0].args != strconv.Itoa(httpPort) {
		t.Errorf("EXPOSE %v, want %d", ex, httpPort)
	}
	for _, r := range final.all("RUN") {
		t.Errorf("final stage RUN %q: the final base has no shell", r.args)
	}
}

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []string // image:name of each stage
		wantErr bool
	}{
		{"args substituted", "ARG V=1.2\n# c\nFROM --platform=$BUILDPLATFORM img:${V} AS b\nRUN a \\\n  # inside\n  b\nFROM x\n", []string{"img:1.2:b", "x:"}, false},
		{"no FROM", "ARG V=1\n", nil, true},
		{"RUN before FROM", "RUN x\nFROM y\n", nil, true},
		{"bad FROM", "FROM a b\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stages, err := parseDockerfile(tt.text)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var got []string
			for _, s := range stages {
				got = append(got, s.image+":"+s.name)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("stages %v, want %v", got, tt.want)
			}
		})
	}
	stages, _ := parseDockerfile("ARG V=1.2\nFROM img:${V} AS b\nRUN a \\\n  # inside\n  b\n")
	if got := stages[0].all("RUN"); len(got) != 1 || got[0].args != "a b" {
		t.Fatalf("RUN = %+v, want one RUN \"a b\"", got)
	}
}

// TestDockerignore: the build context leaves out the repository's history
// and build outputs, and keeps what the build needs.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(data)) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	// ignored reports whether a pattern excludes p or a parent directory of
	// it (the .dockerignore rules for these simple patterns; "**/" prefixes
	// match at any depth).
	ignored := func(p string) bool {
		for _, pat := range patterns {
			pat = strings.TrimSuffix(strings.TrimPrefix(pat, "/"), "/")
			anyDepth := strings.HasPrefix(pat, "**/")
			pat = strings.TrimPrefix(pat, "**/")
			parts := strings.Split(p, "/")
			for i := range parts {
				for j := i + 1; j <= len(parts); j++ {
					if i > 0 && !anyDepth {
						break
					}
					if ok, _ := path.Match(pat, strings.Join(parts[i:j], "/")); ok {
						return true
					}
				}
			}
		}
		return false
	}
	for _, p := range []string{".git/config", "bin/orderprocessor", "data/000001.log", "trading.test"} {
		if !ignored(p) {
			t.Errorf("%s is sent to the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/orderprocessor/main.go", "httpapi/docs.html", "store/store.go"} {
		if ignored(p) {
			t.Errorf("%s is left out of the build context, which needs it", p)
		}
	}
}
