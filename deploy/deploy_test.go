package deploy

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	configMapName = "orderprocessor-config"
	secretName    = "orderprocessor-secrets"
	imageName     = "orderprocessor/orderprocessor"
	httpPort      = 8080 // the container port; ORDERPROCESSOR_ADDR listens on it
	roleARNKey    = "eks.amazonaws.com/role-arn"
	componentKey  = "app.kubernetes.io/component"
	placeholder   = "CHANGE-ME"
)

// roles are the serve roles of the microservices shape, one Deployment each.
var roles = []string{"gateway", "user", "order", "inventory"}

var roleARN = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/[\w+=,.@-]+$`)

// workload is a Deployment, StatefulSet or Job: what runs pods.
type workload struct {
	object
	selector map[string]string // nil for a Job
	template *corev1.PodTemplateSpec
	replicas int32
}

func workloads(s set) []workload {
	var out []workload
	for _, o := range s {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{o, matchLabels(v.Spec.Selector), &v.Spec.Template, ptrOr(v.Spec.Replicas, 1)})
		case *appsv1.StatefulSet:
			out = append(out, workload{o, matchLabels(v.Spec.Selector), &v.Spec.Template, ptrOr(v.Spec.Replicas, 1)})
		case *batchv1.Job:
			out = append(out, workload{o, nil, &v.Spec.Template, ptrOr(v.Spec.Parallelism, 1)})
		}
	}
	return out
}

func matchLabels(s *metav1.LabelSelector) map[string]string {
	if s == nil || len(s.MatchExpressions) > 0 {
		return nil // match expressions are not used here; a nil selector fails the checks
	}
	return s.MatchLabels
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// subset reports whether every label of sel is in labels (and sel is not empty).
func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selected returns the workloads whose pods sel selects.
func selected(ws []workload, sel map[string]string) []workload {
	var out []workload
	for _, w := range ws {
		if subset(sel, w.template.Labels) {
			out = append(out, w)
		}
	}
	return out
}

// containerEnv is the environment a container starts with: its ConfigMap
// and Secret envFrom (which must exist in s), then its env. Values from
// valueFrom are "<valueFrom>".
func containerEnv(s set, c corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			o, ok := s.find("ConfigMap", ef.ConfigMapRef.Name)
			if !ok {
				return nil, fmt.Errorf("envFrom: no ConfigMap %s", ef.ConfigMapRef.Name)
			}
			maps.Copy(env, o.obj.(*corev1.ConfigMap).Data)
		case ef.SecretRef != nil:
			o, ok := s.find("Secret", ef.SecretRef.Name)
			if !ok {
				return nil, fmt.Errorf("envFrom: no Secret %s", ef.SecretRef.Name)
			}
			sec := o.obj.(*corev1.Secret)
			maps.Copy(env, sec.StringData)
			for k, v := range sec.Data {
				env[k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			env[e.Name] = "<valueFrom>"
			continue
		}
		env[e.Name] = e.Value
	}
	return env, nil
}

func envFromNames(c corev1.Container) (configMaps, secrets []string) {
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			configMaps = append(configMaps, ef.ConfigMapRef.Name)
		}
		if ef.SecretRef != nil {
			secrets = append(secrets, ef.SecretRef.Name)
		}
	}
	return configMaps, secrets
}

// checkPod checks what every pod of these manifests must satisfy: the
// "restricted" Pod Security Standard, a service account, resources, the
// image, and, for servers (long), the port and the health probes.
func checkPod(t *testing.T, s set, w workload, long bool) {
	t.Helper()
	spec := w.template.Spec
	if spec.ServiceAccountName == "" {
		t.Errorf("%s: no serviceAccountName", w)
	} else if _, ok := s.find("ServiceAccount", spec.ServiceAccountName); !ok {
		t.Errorf("%s: service account %s is not in the manifests", w, spec.ServiceAccountName)
	}
	if ptrOr(spec.AutomountServiceAccountToken, true) {
		t.Errorf("%s: automountServiceAccountToken is not false (the platform never calls the Kubernetes API)", w)
	}
	psc := spec.SecurityContext
	if psc == nil || !ptrOr(psc.RunAsNonRoot, false) || ptrOr(psc.RunAsUser, 0) == 0 {
		t.Errorf("%s: the pod must set runAsNonRoot: true and a non-zero runAsUser", w)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: the pod must use the RuntimeDefault seccomp profile", w)
	}
	if len(spec.InitContainers) > 0 {
		t.Errorf("%s: init containers are not checked by this test; check them", w)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", w, len(spec.Containers))
	}
	c := spec.Containers[0]
	if repo, _, _ := strings.Cut(c.Image, ":"); repo != imageName {
		t.Errorf("%s: image %s, want %s:<tag>", w, c.Image, imageName)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("%s: container without securityContext", w)
	default:
		if !ptrOr(sc.RunAsNonRoot, false) {
			t.Errorf("%s: container runAsNonRoot is not true", w)
		}
		if !ptrOr(sc.ReadOnlyRootFilesystem, false) {
			t.Errorf("%s: readOnlyRootFilesystem is not true", w)
		}
		if ptrOr(sc.AllowPrivilegeEscalation, true) {
			t.Errorf("%s: allowPrivilegeEscalation is not false", w)
		}
		if ptrOr(sc.Privileged, false) {
			t.Errorf("%s: privileged", w)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities must drop ALL and add none", w)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("%s: %s request and limit must both be set", w, r)
			continue
		}
		if req.Sign() <= 0 || req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s must be positive and at most the limit %s", w, r, req.String(), lim.String())
		}
	}
	if v, ok := envValue(c, "GOMEMLIMIT"); ok {
		checkGOMEMLIMIT(t, w, v, c.Resources.Limits[corev1.ResourceMemory])
	}
	if _, err := containerEnv(s, c); err != nil {
		t.Errorf("%s: %v", w, err)
	}
	if !long {
		return
	}
	cms, secs := envFromNames(c)
	if !slices.Equal(cms, []string{configMapName}) || !slices.Equal(secs, []string{secretName}) {
		t.Errorf("%s: envFrom ConfigMaps %v Secrets %v, want [%s] and [%s]", w, cms, secs, configMapName, secretName)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != httpPort {
		t.Errorf("%s: ports %+v, want one named http on %d", w, c.Ports, httpPort)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/health/live"}, {"readiness", c.ReadinessProbe, "/health/ready"}, {"startup", c.StartupProbe, "/health/live"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", w, p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path {
			t.Errorf("%s: %s probe path %s, want %s", w, p.name, g.Path, p.path)
		}
		if port, ok := resolvePort(c, g.Port); !ok || port != httpPort {
			t.Errorf("%s: %s probe port %s is not the container's port %d", w, p.name, g.Port.String(), httpPort)
		}
	}
}

// resolvePort returns the container port a probe's or Service's port names.
func resolvePort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == p.IntVal })
	}
	i := slices.IndexFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.StrVal })
	if i < 0 {
		return 0, false
	}
	return c.Ports[i].ContainerPort, true
}

func envValue(c corev1.Container, name string) (string, bool) {
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 {
		return "", false
	}
	return c.Env[i].Value, true
}

var goMemLimit = regexp.MustCompile(`^([0-9]+)(KiB|MiB|GiB)$`)

// checkGOMEMLIMIT: the Go soft limit must be below the container's hard
// limit (else the OOM killer acts first) and not far below it (else the GC
// runs for nothing).
func checkGOMEMLIMIT(t *testing.T, w workload, v string, limit resource.Quantity) {
	t.Helper()
	m := goMemLimit.FindStringSubmatch(v)
	if m == nil {
		t.Errorf("%s: GOMEMLIMIT %q is not <n>KiB|MiB|GiB", w, v)
		return
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	n <<= map[string]int{"KiB": 10, "MiB": 20, "GiB": 30}[m[2]]
	if lim := limit.Value(); n >= lim || n < lim*3/4 {
		t.Errorf("%s: GOMEMLIMIT %s (%d bytes) must be 75-100%% of the memory limit %s", w, v, n, limit.String())
	}
}

// checkNamespace: the kustomization's namespace exists in the build, with
// the restricted Pod Security Standard enforced.
func checkNamespace(t *testing.T, s set, dir string) {
	t.Helper()
	k, err := readKustomization(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := s.find("Namespace", k.Namespace)
	if !ok {
		t.Fatalf("%s: no Namespace %s", dir, k.Namespace)
	}
	if got := o.obj.(*corev1.Namespace).Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("%s: pod-security enforce label %q, want restricted", o, got)
	}
	if len(s.all("Namespace")) != 1 {
		t.Errorf("%s: %d namespaces, want 1", dir, len(s.all("Namespace")))
	}
	if len(k.Images) != 1 || k.Images[0].Name != imageName || k.Images[0].NewTag == "" {
		t.Errorf("%s: images %+v, want one entry for %s with a newTag", dir, k.Images, imageName)
	}
}

// checkServices: each Service selects exactly one workload's pods (never a
// Job's), targets its http port, and each server workload has one Service.
// It returns the Services by the component they serve.
func checkServices(t *testing.T, s set, ws []workload) map[string]*corev1.Service {
	t.Helper()
	byComponent := map[string]*corev1.Service{}
	served := map[string]int{}
	for _, svc := range typed[corev1.Service](t, s, "Service") {
		if svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s: type %s, want ClusterIP (exposure is the Ingress's job)", svc.Name, svc.Spec.Type)
		}
		sel := selected(ws, svc.Spec.Selector)
		if len(sel) != 1 || sel[0].kind == "Job" {
			t.Errorf("Service %s: selector %v selects %d workloads, want one Deployment or StatefulSet", svc.Name, svc.Spec.Selector, len(sel))
			continue
		}
		w := sel[0]
		served[w.name]++
		byComponent[w.template.Labels[componentKey]] = svc
		if len(svc.Spec.Ports) != 1 {
			t.Errorf("Service %s: %d ports, want 1", svc.Name, len(svc.Spec.Ports))
			continue
		}
		if port, ok := resolvePort(w.template.Spec.Containers[0], svc.Spec.Ports[0].TargetPort); !ok || port != httpPort {
			t.Errorf("Service %s: targetPort %s is not %s's port %d", svc.Name, svc.Spec.Ports[0].TargetPort.String(), w, httpPort)
		}
	}
	for _, w := range ws {
		if w.kind != "Job" && served[w.name] != 1 {
			t.Errorf("%s: %d Services select it, want 1", w, served[w.name])
		}
	}
	return byComponent
}

// TestMicroservices checks the microservices shape (k8s/).
func TestMicroservices(t *testing.T) {
	s := set(build(t, k8sDir))
	checkNamespace(t, s, k8sDir)
	ws := workloads(s)

	// Every role exactly once, identified by its ORDERPROCESSOR_ROLE and
	// its component label, and checked as a server.
	byRole := map[string]workload{}
	for _, w := range ws {
		if w.kind == "Job" {
			continue
		}
		if w.kind != "Deployment" {
			t.Errorf("%s: the microservices are Deployments", w)
			continue
		}
		role, _ := envValue(w.template.Spec.Containers[0], "ORDERPROCESSOR_ROLE")
		if !slices.Contains(roles, role) {
			t.Errorf("%s: ORDERPROCESSOR_ROLE %q is not one of %v", w, role, roles)
			continue
		}
		if _, dup := byRole[role]; dup {
			t.Errorf("%s: role %s twice", w, role)
		}
		byRole[role] = w
		if got := w.template.Labels[componentKey]; got != role {
			t.Errorf("%s: label %s=%q, want %q", w, componentKey, got, role)
		}
		if !subset(w.selector, w.template.Labels) {
			t.Errorf("%s: selector %v does not match its pod labels %v", w, w.selector, w.template.Labels)
		}
		if w.selector[componentKey] != role {
			t.Errorf("%s: selector %v does not include %s=%s: the roles' pods would mix", w, w.selector, componentKey, role)
		}
		if w.replicas < 2 {
			t.Errorf("%s: %d replicas, want at least 2 (stateless, highly available)", w, w.replicas)
		}
		checkPod(t, s, w, true)
	}
	if got := slices.Sorted(maps.Keys(byRole)); !slices.Equal(got, slices.Sorted(slices.Values(roles))) {
		t.Fatalf("roles %v, want %v", got, roles)
	}

	services := checkServices(t, s, ws)

	// Configuration: the store is DynamoDB, the role is per Deployment, and
	// the gateway's upstream URLs are the services' Services.
	cm := configMap(t, s)
	for k, want := range map[string]string{"ORDERPROCESSOR_STORE": "dynamodb", "ORDERPROCESSOR_PRODUCTION": "true", "ORDERPROCESSOR_ADDR": ":" + strconv.Itoa(httpPort)} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap: %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	if cm.Data["AWS_REGION"] == "" || cm.Data["ORDERPROCESSOR_TABLE_PREFIX"] == "" {
		t.Errorf("ConfigMap: AWS_REGION and ORDERPROCESSOR_TABLE_PREFIX must be set")
	}
	if _, ok := cm.Data["ORDERPROCESSOR_ROLE"]; ok {
		t.Errorf("ConfigMap: ORDERPROCESSOR_ROLE belongs to each Deployment")
	}
	for _, k := range []string{"ORDERPROCESSOR_AWS_ROLE_ARN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ORDERPROCESSOR_JWT_SECRET", "ORDERPROCESSOR_ADMIN_PASSWORD"} {
		if _, ok := cm.Data[k]; ok {
			t.Errorf("ConfigMap: %s must not be here (credentials come from IRSA; secrets from the Secret)", k)
		}
	}
	for _, role := range []string{"user", "order", "inventory"} {
		key := "ORDERPROCESSOR_" + strings.ToUpper(role) + "_URL"
		svc := services[role]
		if svc == nil {
			t.Errorf("no Service for %s", role)
			continue
		}
		u, err := url.Parse(cm.Data[key])
		if err != nil || u.Scheme != "http" || u.Path != "" {
			t.Errorf("ConfigMap: %s = %q, want http://<service>[:port]", key, cm.Data[key])
			continue
		}
		port := 80
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
		host := u.Hostname()
		if h, _, ok := strings.Cut(host, "."); ok { // svc.namespace.svc.cluster.local
			host = h
		}
		if host != svc.Name || int(svc.Spec.Ports[0].Port) != port {
			t.Errorf("ConfigMap: %s = %q, but the %s Service is %s port %d", key, cm.Data[key], role, svc.Name, svc.Spec.Ports[0].Port)
		}
	}

	checkSecret(t, s)

	// Leases: the inventory replicas run one price feed and the order
	// replicas share the engine's sweeps, each taken over within 10 s of a
	// replica's death (a term plus a renewal period, a third of it), and
	// each role has a replica to take over.
	ttl, err := time.ParseDuration(cm.Data["ORDERPROCESSOR_LEASE_TTL"])
	if err != nil || ttl < 100*time.Millisecond || ttl+ttl/3 > 10*time.Second { // serve's least term: 100 ms
		t.Errorf("ConfigMap: ORDERPROCESSOR_LEASE_TTL = %q (%v): want a term of at least 100ms whose takeover (4/3 of it) is within 10 s",
			cm.Data["ORDERPROCESSOR_LEASE_TTL"], err)
	}
	for _, role := range []string{"inventory", "order"} {
		if w, ok := byRole[role]; ok && w.replicas < 2 {
			t.Errorf("%s: %d replicas: no replica to take its lease over", w, w.replicas)
		}
	}

	// Identities: the services that use DynamoDB assume a role by IRSA, the
	// gateway has none, and migrate has its own.
	runtimeARN := ""
	for role, w := range byRole {
		sa, ok := s.find("ServiceAccount", w.template.Spec.ServiceAccountName)
		if !ok {
			continue // reported by checkPod
		}
		arn := sa.obj.(*corev1.ServiceAccount).Annotations[roleARNKey]
		if role == "gateway" {
			if arn != "" {
				t.Errorf("%s: the gateway's service account %s has an AWS role; it needs none", w, sa.name)
			}
			continue
		}
		if !roleARN.MatchString(arn) {
			t.Errorf("%s: service account %s: %s %q is not an IAM role ARN", w, sa.name, roleARNKey, arn)
		}
		if runtimeARN != "" && arn != runtimeARN {
			t.Errorf("%s: role %s differs from the other services' %s (docs/deploy.md has one runtime policy)", w, arn, runtimeARN)
		}
		runtimeARN = arn
	}

	// The migrate Job: the image's binary with the migrate subcommand, its
	// own identity, the ConfigMap and no Secret.
	jobs := typed[batchv1.Job](t, s, "Job")
	if len(jobs) != 1 {
		t.Fatalf("%d Jobs, want the migrate Job", len(jobs))
	}
	for _, w := range ws {
		if w.kind != "Job" {
			continue
		}
		checkPod(t, s, w, false)
		c := w.template.Spec.Containers[0]
		if want := []string{dockerEntrypoint(t)[0], "migrate"}; !slices.Equal(c.Command, want) || len(c.Args) > 0 {
			t.Errorf("%s: command %q args %q, want %q", w, c.Command, c.Args, want)
		}
		if rp := w.template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %q", w, rp)
		}
		cms, secs := envFromNames(c)
		if !slices.Equal(cms, []string{configMapName}) || len(secs) != 0 {
			t.Errorf("%s: envFrom ConfigMaps %v Secrets %v, want [%s] and none", w, cms, secs, configMapName)
		}
		sa, ok := s.find("ServiceAccount", w.template.Spec.ServiceAccountName)
		if ok {
			arn := sa.obj.(*corev1.ServiceAccount).Annotations[roleARNKey]
			if !roleARN.MatchString(arn) || arn == runtimeARN {
				t.Errorf("%s: service account %s: role %q, want an IAM role other than the runtime's", w, sa.name, arn)
			}
		}
		j := w.obj.(*batchv1.Job)
		if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil || j.Spec.TTLSecondsAfterFinished == nil {
			t.Errorf("%s: backoffLimit, activeDeadlineSeconds and ttlSecondsAfterFinished must be set", w)
		}
	}

	// Autoscaling and disruption budgets.
	hpas := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, h := range typed[autoscalingv2.HorizontalPodAutoscaler](t, s, "HorizontalPodAutoscaler") {
		ref := h.Spec.ScaleTargetRef
		w, ok := s.find(ref.Kind, ref.Name)
		if !ok || ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" {
			t.Errorf("HPA %s: target %+v is not a Deployment here", h.Name, ref)
			continue
		}
		role := w.obj.(*appsv1.Deployment).Spec.Template.Labels[componentKey]
		hpas[role] = h
		if minR := ptrOr(h.Spec.MinReplicas, 1); minR < 2 || minR > h.Spec.MaxReplicas {
			t.Errorf("HPA %s: minReplicas %d maxReplicas %d", h.Name, minR, h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) == 0 {
			t.Errorf("HPA %s: no metric", h.Name)
		}
	}
	if got := slices.Sorted(maps.Keys(hpas)); !slices.Equal(got, []string{"gateway", "order"}) {
		t.Errorf("HPAs for %v, want gateway and order", got)
	}
	budgets := map[string]int{}
	for _, pdb := range typed[policyv1.PodDisruptionBudget](t, s, "PodDisruptionBudget") {
		sel := selected(ws, matchLabels(pdb.Spec.Selector))
		if len(sel) != 1 || sel[0].kind != "Deployment" {
			t.Errorf("PDB %s selects %d workloads, want one Deployment", pdb.Name, len(sel))
			continue
		}
		w := sel[0]
		budgets[w.name]++
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MaxUnavailable != nil || pdb.Spec.MinAvailable.Type != intstr.Int {
			t.Errorf("PDB %s: want an integer minAvailable", pdb.Name)
			continue
		}
		// A drain must be able to evict one pod: fewer required than run.
		if minA := pdb.Spec.MinAvailable.IntVal; minA < 1 || minA >= w.replicas {
			t.Errorf("PDB %s: minAvailable %d with %d replicas", pdb.Name, minA, w.replicas)
		}
	}
	for _, w := range byRole {
		if budgets[w.name] != 1 {
			t.Errorf("%s: %d PodDisruptionBudgets, want 1", w, budgets[w.name])
		}
	}
}

func configMap(t *testing.T, s set) *corev1.ConfigMap {
	t.Helper()
	o, ok := s.find("ConfigMap", configMapName)
	if !ok || len(s.all("ConfigMap")) != 1 {
		t.Fatalf("want one ConfigMap, %s", configMapName)
	}
	return o.obj.(*corev1.ConfigMap)
}

// checkSecret: placeholders only, clearly marked, and a JWT secret too
// short for serve to accept, so that nothing runs on them.
func checkSecret(t *testing.T, s set) *corev1.Secret {
	t.Helper()
	o, ok := s.find("Secret", secretName)
	if !ok || len(s.all("Secret")) != 1 {
		t.Fatalf("want one Secret, %s", secretName)
	}
	sec := o.obj.(*corev1.Secret)
	if len(sec.Data) > 0 {
		t.Errorf("%s: use stringData (placeholders readable in review)", o)
	}
	for k, v := range sec.StringData {
		if !strings.Contains(v, placeholder) {
			t.Errorf("%s: %s is not a %s placeholder", o, k, placeholder)
		}
	}
	if v := sec.StringData["ORDERPROCESSOR_JWT_SECRET"]; v == "" || len(v) >= 32 {
		t.Errorf("%s: the placeholder JWT secret must be set and shorter than the 32 characters serve requires", o)
	}
	return sec
}

// TestAllInOne checks the all-in-one shape (k8s/all-in-one).
func TestAllInOne(t *testing.T) {
	dir := k8sDir + "/all-in-one"
	s := set(build(t, dir))
	checkNamespace(t, s, dir)
	ws := workloads(s)
	if len(ws) != 1 || ws[0].kind != "StatefulSet" || ws[0].replicas != 1 {
		t.Fatalf("workloads %v, want one StatefulSet of one replica", ws)
	}
	w := ws[0]
	checkPod(t, s, w, true)
	checkServices(t, s, ws)
	checkSecret(t, s)
	cm := configMap(t, s)
	for k, want := range map[string]string{"ORDERPROCESSOR_ROLE": "all", "ORDERPROCESSOR_STORE": "embedded", "ORDERPROCESSOR_ADDR": ":" + strconv.Itoa(httpPort)} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap: %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	// The store's directory is the persistent volume.
	dataDir := cm.Data["ORDERPROCESSOR_DATA_DIR"]
	sts := w.obj.(*appsv1.StatefulSet)
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%s: %d volume claim templates, want 1", w, len(sts.Spec.VolumeClaimTemplates))
	}
	claim := sts.Spec.VolumeClaimTemplates[0]
	c := w.template.Spec.Containers[0]
	i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == claim.Name })
	if i < 0 || c.VolumeMounts[i].MountPath != dataDir || c.VolumeMounts[i].ReadOnly {
		t.Errorf("%s: volume %s must be mounted read-write at ORDERPROCESSOR_DATA_DIR %q", w, claim.Name, dataDir)
	}
	if !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("%s: access modes %v, want ReadWriteOnce", w, claim.Spec.AccessModes)
	}
	if w.template.Spec.SecurityContext.FSGroup == nil {
		t.Errorf("%s: fsGroup must be set so that the non-root user can write the volume", w)
	}
	if len(s.all("HorizontalPodAutoscaler")) > 0 {
		t.Errorf("the all-in-one shape must not autoscale: one process owns the store")
	}
}

// TestWithIngress checks the overlay: the base plus an Ingress to the
// gateway's Service.
func TestWithIngress(t *testing.T) {
	base := set(build(t, k8sDir))
	s := set(build(t, k8sDir+"/with-ingress"))
	if len(s) != len(base)+1 {
		t.Fatalf("%d objects, want the base's %d and an Ingress", len(s), len(base))
	}
	ings := typed[networkingv1.Ingress](t, s, "Ingress")
	if len(ings) != 1 {
		t.Fatalf("%d Ingresses, want 1", len(ings))
	}
	gw, ok := s.find("Service", "orderprocessor-gateway")
	if !ok {
		t.Fatal("no gateway Service")
	}
	svc := gw.obj.(*corev1.Service)
	n := 0
	for _, r := range ings[0].Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			n++
			b := p.Backend.Service
			if b == nil || b.Name != svc.Name || b.Port.Name != svc.Spec.Ports[0].Name {
				t.Errorf("Ingress path %s: backend %+v, want Service %s port %s", p.Path, b, svc.Name, svc.Spec.Ports[0].Name)
			}
		}
	}
	if n == 0 {
		t.Error("Ingress without paths")
	}
	if len(ings[0].Spec.TLS) == 0 {
		t.Error("Ingress without TLS: tokens and passwords would cross the network in clear")
	}
}
