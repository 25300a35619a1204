package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// k8sDir is the root of the manifests, relative to this package.
const k8sDir = "k8s"

// kinds maps apiVersion/kind to a constructor of the Kubernetes API type a
// manifest of that kind decodes into. A kind not listed here is an error:
// add it (and its checks) when a manifest needs it.
var kinds = map[string]func() any{
	"v1/Namespace":                                  func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":                             func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                                  func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                                     func() any { return new(corev1.Secret) },
	"v1/Service":                                    func() any { return new(corev1.Service) },
	"apps/v1/Deployment":                            func() any { return new(appsv1.Deployment) },
	"apps/v1/StatefulSet":                           func() any { return new(appsv1.StatefulSet) },
	"batch/v1/Job":                                  func() any { return new(batchv1.Job) },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"policy/v1/PodDisruptionBudget":                 func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/Ingress":                  func() any { return new(networkingv1.Ingress) },
	"kustomize.config.k8s.io/v1beta1/Kustomization": nil, // not a manifest: see kustomization
}

// object is one decoded manifest.
type object struct {
	file string // path relative to the package, e.g. k8s/gateway.yaml
	doc  int    // index of the YAML document in the file
	kind string
	name string
	obj  any // a pointer to the API type of kinds
}

func (o object) String() string { return fmt.Sprintf("%s %s (%s#%d)", o.kind, o.name, o.file, o.doc) }

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeManifests decodes every YAML document of data into its API type,
// strictly: an unknown or duplicate field, an unknown kind or a missing
// name is an error. Documents with nothing but comments are skipped.
func decodeManifests(file string, data []byte) ([]object, error) {
	var out []object
	for i, doc := range docSeparator.Split(string(data), -1) {
		if isBlank(doc) {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("%s#%d: %w", file, i, err)
		}
		newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
		if !ok || newObj == nil {
			return nil, fmt.Errorf("%s#%d: unknown kind %q (apiVersion %q)", file, i, tm.Kind, tm.APIVersion)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("%s#%d: %s: %w", file, i, tm.Kind, err)
		}
		meta := obj.(metav1.Object)
		if meta.GetName() == "" {
			return nil, fmt.Errorf("%s#%d: %s without metadata.name", file, i, tm.Kind)
		}
		out = append(out, object{file: file, doc: i, kind: tm.Kind, name: meta.GetName(), obj: obj})
	}
	return out, nil
}

// isBlank reports whether a YAML document holds only blank lines and comments.
func isBlank(doc string) bool {
	for line := range strings.Lines(doc) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// kustomization is the part of kustomize's Kustomization these manifests
// use; decoded strictly, so that a field this test does not understand
// fails it rather than being ignored.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

func readKustomization(dir string) (*kustomization, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		return nil, fmt.Errorf("%s/kustomization.yaml: apiVersion %q kind %q", dir, k.APIVersion, k.Kind)
	}
	return &k, nil
}

// build returns the objects `kubectl apply -k dir` creates: the resources
// of dir's kustomization, directories included recursively, in order.
// Only the namespace transformer matters to these tests, and it is
// checked separately (every object is namespaced by the kustomization).
func build(t *testing.T, dir string) []object {
	t.Helper()
	k, err := readKustomization(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s/kustomization.yaml: resource %s: %v", dir, r, err)
		}
		if fi.IsDir() {
			out = append(out, build(t, p)...)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(p, data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}

// set is a kustomize build's objects with lookups by kind and name.
type set []object

func (s set) all(kind string) []object {
	var out []object
	for _, o := range s {
		if o.kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (s set) find(kind, name string) (object, bool) {
	i := slices.IndexFunc(s, func(o object) bool { return o.kind == kind && o.name == name })
	if i < 0 {
		return object{}, false
	}
	return s[i], true
}

func typed[T any](t *testing.T, s set, kind string) []*T {
	t.Helper()
	var out []*T
	for _, o := range s.all(kind) {
		v, ok := o.obj.(*T)
		if !ok {
			t.Fatalf("%s is a %T", o, o.obj)
		}
		out = append(out, v)
	}
	return out
}

func TestDecodeManifestsIsStrict(t *testing.T) {
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n"
	tests := []struct {
		name    string
		data    string
		want    []string // kinds decoded
		wantErr string
	}{
		{"one document", deployment, []string{"Deployment"}, ""},
		{"comment-only documents are skipped", "# a\n---\n" + deployment + "---\n# b\n", []string{"Deployment"}, ""},
		{"two documents", deployment + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: y\n", []string{"Deployment", "Service"}, ""},
		{"unknown field", deployment + "spec:\n  replica: 2\n", nil, `unknown field "replica"`},
		{"misplaced field", deployment + "spec:\n  template:\n    spec:\n      containers:\n        - name: c\n          readOnlyRootFilesystem: true\n", nil, `unknown field "readOnlyRootFilesystem"`},
		{"duplicate field", deployment + "spec:\n  replicas: 1\n  replicas: 2\n", nil, `already set in map`},
		{"wrong type", deployment + "spec:\n  replicas: two\n", nil, "cannot unmarshal string"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n", nil, `unknown kind "Pod"`},
		{"wrong apiVersion", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: p\n", nil, `unknown kind "Deployment"`},
		{"no name", "apiVersion: v1\nkind: Service\n", nil, "without metadata.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := decodeManifests("test.yaml", []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.kind)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("kinds = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEveryManifestDecodes decodes every YAML file under k8s/, listed in a
// kustomization or not.
func TestEveryManifestDecodes(t *testing.T) {
	n := 0
	err := filepath.WalkDir(k8sDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) == "kustomization.yaml" {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" {
			return fmt.Errorf("%s: manifests are .yaml files", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(data, []byte("#")) {
			return fmt.Errorf("%s: start with a comment saying what the file is for", p)
		}
		objs, err := decodeManifests(p, data)
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			return fmt.Errorf("%s: no object", p)
		}
		n += len(objs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("decoded %d objects; the manifests have more than 20", n)
	}
}

// TestKustomizationsListEveryFile: every directory of manifests is a
// kustomization that lists each of its files exactly once, and only
// files and kustomization directories that exist.
func TestKustomizationsListEveryFile(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir(k8sDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"k8s", "k8s/all-in-one", "k8s/with-ingress"}; !slices.Equal(dirs, want) {
		t.Fatalf("directories = %v, want %v (update this test with the docs)", dirs, want)
	}
	for _, dir := range dirs {
		k, err := readKustomization(dir)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, e := range entries {
			if !e.IsDir() && e.Name() != "kustomization.yaml" {
				files = append(files, e.Name())
			}
		}
		seen := map[string]bool{}
		for _, r := range k.Resources {
			if seen[r] {
				t.Errorf("%s: %s listed twice", dir, r)
			}
			seen[r] = true
			fi, err := os.Stat(filepath.Join(dir, r))
			switch {
			case err != nil:
				t.Errorf("%s: listed resource %s: %v", dir, r, err)
			case fi.IsDir():
				if _, err := os.Stat(filepath.Join(dir, r, "kustomization.yaml")); err != nil {
					t.Errorf("%s: listed directory %s is not a kustomization: %v", dir, r, err)
				}
			}
		}
		for _, f := range files {
			if !seen[f] {
				t.Errorf("%s: %s is not listed in kustomization.yaml", dir, f)
			}
		}
		if k.Namespace == "" {
			t.Errorf("%s: the kustomization sets no namespace", dir)
		}
	}
}
