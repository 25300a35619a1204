package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The binary the manifests run, built once from ../cmd/orderprocessor.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the orderprocessor binary (with -race when this test is,
// to reuse the packages `go test -race` compiled) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "deploy-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "orderprocessor")
		args := []string{"build", "-ldflags=-s -w", "-o", binPath} // no DWARF: a faster link
		if raceBuild {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, append(args, "./cmd/orderprocessor")...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/orderprocessor: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// cleanEnv is the environment of a run of the binary: nothing of this
// process's but PATH, and every address it could reach on loopback, so
// that a run that got further than expected reaches no network.
func cleanEnv(t *testing.T) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
	}
}

var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)`)

// flagEnvNames returns the environment variables of the flags of a
// subcommand, read from its -h output: --data-dir is ORDERPROCESSOR_DATA_DIR.
func flagEnvNames(t *testing.T, sub string) map[string]bool {
	t.Helper()
	cmd := exec.Command(binary(t), sub, "-h")
	cmd.Env = cleanEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -h: %v\n%s", sub, err, out)
	}
	names := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
		names["ORDERPROCESSOR_"+strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	if !names["ORDERPROCESSOR_ADDR"] && sub == "serve" || len(names) == 0 {
		t.Fatalf("%s -h lists no flags I can read:\n%s", sub, out)
	}
	return names
}

// otherEnv are the variables, not of the platform's flags, that the
// manifests may set.
var otherEnv = map[string]bool{"AWS_REGION": true, "GOMEMLIMIT": true}

// TestEnvNamesAreFlags: every ORDERPROCESSOR_* variable the manifests set is
// one the binary reads. In a ConfigMap or a Deployment: a flag of serve
// (the Job: of migrate). In a Secret: a flag, or a variable named in the
// binary (ORDERPROCESSOR_JWT_SECRET and ORDERPROCESSOR_ADMIN_PASSWORD are
// read with os.Getenv, not flags, so that no default shows them).
func TestEnvNamesAreFlags(t *testing.T) {
	serve, migrate := flagEnvNames(t, "serve"), flagEnvNames(t, "migrate")
	t.Logf("serve reads: %s", strings.Join(slices.Sorted(maps.Keys(serve)), " "))
	t.Logf("migrate reads: %s", strings.Join(slices.Sorted(maps.Keys(migrate)), " "))
	exe, err := os.ReadFile(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	check := func(where, name string, flags map[string]bool, secret bool) {
		switch {
		case flags[name], otherEnv[name]:
		case secret && strings.HasPrefix(name, "ORDERPROCESSOR_") && bytes.Contains(exe, []byte(name)):
		default:
			t.Errorf("%s: %s is not read by the binary (not a flag's variable)", where, name)
		}
	}
	for _, dir := range []string{k8sDir, k8sDir + "/all-in-one"} {
		s := set(build(t, dir))
		for _, o := range s.all("ConfigMap") {
			for k := range o.obj.(*corev1.ConfigMap).Data {
				check(o.String(), k, serve, false)
			}
		}
		for _, o := range s.all("Secret") {
			for k := range o.obj.(*corev1.Secret).StringData {
				check(o.String(), k, serve, true)
			}
		}
		for _, w := range workloads(s) {
			flags := serve
			if w.kind == "Job" {
				flags = migrate
			}
			for _, e := range w.template.Spec.Containers[0].Env {
				check(w.String(), e.Name, flags, false)
			}
		}
	}
}

// TestShippedConfigRefusesPlaceholderSecret runs the binary as each server
// of the manifests would (the image's entrypoint, the container's
// environment from its ConfigMap, Secret and env): every value must parse,
// and the placeholder JWT secret must stop it, so that no deployment runs
// on a placeholder. (What comes after that check needs AWS or a volume.)
func TestShippedConfigRefusesPlaceholderSecret(t *testing.T) {
	ep := dockerEntrypoint(t)
	for _, dir := range []string{k8sDir, k8sDir + "/all-in-one"} {
		for _, w := range workloads(set(build(t, dir))) {
			if w.kind == "Job" {
				continue
			}
			t.Run(w.name, func(t *testing.T) {
				env, err := containerEnv(set(build(t, dir)), w.template.Spec.Containers[0])
				if err != nil {
					t.Fatal(err)
				}
				vars := cleanEnv(t)
				for k, v := range env {
					if v != "<valueFrom>" {
						vars = append(vars, k+"="+v)
					}
				}
				// Loopback only, should it get further than it must.
				vars = append(vars, "ORDERPROCESSOR_ADDR=127.0.0.1:0", "ORDERPROCESSOR_DATA_DIR="+t.TempDir(),
					"ORDERPROCESSOR_PRICE_URL=http://127.0.0.1:1", "ORDERPROCESSOR_DYNAMODB_ENDPOINT=http://127.0.0.1:1",
					"ORDERPROCESSOR_USER_URL=http://127.0.0.1:1", "ORDERPROCESSOR_ORDER_URL=http://127.0.0.1:1",
					"ORDERPROCESSOR_INVENTORY_URL=http://127.0.0.1:1", "ORDERPROCESSOR_REDIS_URL=redis://127.0.0.1:1/0")
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, binary(t), ep[1:]...)
				cmd.Env = vars
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err = cmd.Run()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 2 {
					t.Fatalf("%s: exit %v, want status 2; stderr:\n%s", w, err, stderr.String())
				}
				if want := "ORDERPROCESSOR_JWT_SECRET: the JWT secret must be at least 32 bytes"; !strings.Contains(stderr.String(), want) {
					t.Fatalf("%s: stderr %q, want %q (any other error is the configuration's)", w, stderr.String(), want)
				}
			})
		}
	}
}
