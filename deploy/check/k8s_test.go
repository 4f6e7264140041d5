package check

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var overlays = []string{"dev", "prod"}

// TestKubernetes renders every overlay with kustomize, decodes every object
// strictly into its k8s.io/api type and checks the rules.
func TestKubernetes(t *testing.T) {
	files := k8sFiles(t)
	list := services(t)
	for _, overlay := range overlays {
		for _, problem := range checkOverlay(files, overlay, list) {
			t.Errorf("%s: %s", overlay, problem)
		}
	}
}

// TestKubernetesCheckCatchesBrokenCopies breaks the manifests one way at a
// time, in memory, and expects the check to say so.
func TestKubernetesCheckCatchesBrokenCopies(t *testing.T) {
	files := k8sFiles(t)
	list := services(t)
	for _, overlay := range overlays {
		if problems := checkOverlay(files, overlay, list); len(problems) > 0 {
			t.Fatalf("%s itself: %v", overlay, problems)
		}
	}
	const catalog = "base/services/catalog.yaml"
	for _, tc := range []struct{ name, file, old, new, want string }{
		{"surge", catalog, "{maxUnavailable: 0, maxSurge: 1}", "{maxUnavailable: 1, maxSurge: 1}", "maxUnavailable"},
		{"recreate", "base/gateway/gateway.yaml", "type: RollingUpdate\n    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}",
			"type: Recreate", "RollingUpdate"},
		{"no readiness probe", catalog, "          readinessProbe:\n            httpGet: {path: /readyz, port: internal}\n" +
			"            periodSeconds: 5\n            failureThreshold: 2\n", "", "readiness"},
		{"probe on the public port", catalog, "httpGet: {path: /livez, port: internal}\n            periodSeconds: 10",
			"httpGet: {path: /livez, port: public}\n            periodSeconds: 10", "internal port"},
		{"writable root", catalog, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"escalation", catalog, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capabilities", catalog, "capabilities: {drop: [ALL]}", "capabilities: {drop: [NET_RAW]}", "capabilities"},
		{"root", catalog, "runAsNonRoot: true\n        runAsUser: 65532", "runAsUser: 0", "non-root"},
		{"no limits", catalog, "limits: {cpu: \"1\", memory: 256Mi}", "", "limits"},
		{"unknown field", catalog, "revisionHistoryLimit: 5", "revisionHistoryLimits: 5", "unknown field"},
		{"committed secret", catalog, "valueFrom: {secretKeyRef: {name: emporium-secrets, key: service-token}}",
			"value: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", "secret"},
		{"no HPA", catalog, "kind: HorizontalPodAutoscaler", "kind: HorizontalPodAutoscalerX", "HorizontalPodAutoscaler"},
		{"no PDB", catalog, "  minAvailable: 1\n  selector:\n    matchLabels: {app.kubernetes.io/name: catalog}",
			"  minAvailable: 1\n  selector:\n    matchLabels: {app.kubernetes.io/name: catalogue}", "PodDisruptionBudget"},
		{"a service left out", "base/kustomization.yaml", "  - services/catalog.yaml\n", "", "catalog"},
		{"open internal port", "base/networkpolicies.yaml",
			"        - podSelector:\n            matchLabels: {app.kubernetes.io/component: service}\n        - namespaceSelector",
			"        - podSelector: {}\n        - namespaceSelector", "9090"},
		{"two NATS nodes", "base/nats/nats.yaml", "replicas: 3", "replicas: 2", "3-node"},
		{"stale gateway config", "base/gateway/nginx.conf", "least_conn;", "", "nginx.conf"},
		{"a database left out", "overlays/dev/databases.sql", "CREATE DATABASE catalog;", "", "database catalog"},
		{"missing file", "base/kustomization.yaml", "  - namespace.yaml\n", "  - namespaces.yaml\n", "render"},
	} {
		broken := maps(files)
		old := string(files[tc.file])
		if !strings.Contains(old, tc.old) {
			t.Fatalf("%s: %q is not in %s; update the test", tc.name, tc.old, tc.file)
		}
		broken[tc.file] = []byte(strings.Replace(old, tc.old, tc.new, 1))
		var all []string
		for _, overlay := range overlays {
			all = append(all, checkOverlay(broken, overlay, list)...)
		}
		if problems := strings.Join(all, "; "); !strings.Contains(problems, tc.want) {
			t.Errorf("%s: the check said %q, want a problem naming %q", tc.name, problems, tc.want)
		}
	}
}

// k8sFiles reads deploy/k8s into memory: path (relative to deploy/k8s) →
// content.
func k8sFiles(t *testing.T) map[string][]byte {
	t.Helper()
	root := filepath.Join(repo, "deploy/k8s")
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func maps(m map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rendered is an overlay's objects, decoded.
type rendered struct {
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	policies     []*networkingv1.NetworkPolicy
	secrets      []*corev1.Secret
}

// render runs kustomize on an overlay of files (in memory) and decodes every
// object strictly: an unknown field or kind is an error.
func render(files map[string][]byte, overlay string) (*rendered, error) {
	mem := filesys.MakeFsInMemory()
	for path, b := range files {
		if err := mem.WriteFile("/k8s/"+path, b); err != nil {
			return nil, err
		}
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k8s/overlays/"+overlay)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	out := &rendered{}
	for _, res := range resources.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		var obj any
		switch gvk := res.GetGvk(); gvk.ApiVersion() + "/" + gvk.Kind {
		case "apps/v1/Deployment":
			o := &appsv1.Deployment{}
			out.deployments, obj = append(out.deployments, o), o
		case "apps/v1/StatefulSet":
			o := &appsv1.StatefulSet{}
			out.statefulSets, obj = append(out.statefulSets, o), o
		case "v1/Service":
			o := &corev1.Service{}
			out.services, obj = append(out.services, o), o
		case "v1/ConfigMap":
			o := &corev1.ConfigMap{}
			out.configMaps, obj = append(out.configMaps, o), o
		case "v1/Secret":
			o := &corev1.Secret{}
			out.secrets, obj = append(out.secrets, o), o
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "policy/v1/PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			out.pdbs, obj = append(out.pdbs, o), o
		case "autoscaling/v2/HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			out.hpas, obj = append(out.hpas, o), o
		case "networking.k8s.io/v1/NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			out.policies, obj = append(out.policies, o), o
		default:
			return nil, fmt.Errorf("%s %s: a kind the check does not know", gvk.Kind, res.GetName())
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", res.GetKind(), res.GetName(), err)
		}
	}
	return out, nil
}

var secretName = regexp.MustCompile(`(TOKEN|PASSWORD|SECRET|_KEY|DATABASE_URL|REDIS_URL|SMTP_URL|AUTH)`)

// checkOverlay renders an overlay and returns what breaks the rules.
func checkOverlay(files map[string][]byte, overlay string, list []service) []string {
	r, err := render(files, overlay)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, d := range r.deployments {
		for _, p := range checkDeployment(d) {
			add("Deployment %s: %s", d.Name, p)
		}
	}
	for _, s := range r.secrets {
		add("Secret %s is rendered: secret values are never committed; reference emporium-secrets", s.Name)
	}
	for _, s := range list {
		d := find(r.deployments, s.Name, func(d *appsv1.Deployment) string { return d.Name })
		if d == nil {
			add("no Deployment for %s (deploy/services.json)", s.Name)
			continue
		}
		if len(d.Spec.Template.Spec.Containers) == 0 ||
			!strings.Contains(d.Spec.Template.Spec.Containers[0].Image, "emporium-"+s.Name+":") {
			add("Deployment %s does not run the image emporium-%s", s.Name, s.Name)
		}
		if d.Spec.Template.Labels["app.kubernetes.io/component"] != "service" {
			add("Deployment %s's pods are not labelled app.kubernetes.io/component: service, "+
				"which the network policies select", s.Name)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range []struct {
				probe *corev1.Probe
				path  string
			}{{c.ReadinessProbe, "/readyz"}, {c.LivenessProbe, "/livez"}, {c.StartupProbe, "/livez"}} {
				if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path ||
					(p.probe.HTTPGet.Port.String() != "internal" && p.probe.HTTPGet.Port.IntValue() != 9090) {
					add("Deployment %s: probes must GET /readyz (readiness) and /livez (liveness, "+
						"startup) on the internal port", s.Name)
				}
			}
			if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
				return e.ConfigMapRef != nil && e.ConfigMapRef.Name == "emporium-config"
			}) {
				add("Deployment %s does not read the ConfigMap emporium-config", s.Name)
			}
		}
		if find(r.services, s.Name, func(x *corev1.Service) string { return x.Name }) == nil {
			add("no Service %s", s.Name)
		}
		if h := find(r.services, s.Name+"-pods", func(x *corev1.Service) string { return x.Name }); h == nil ||
			h.Spec.ClusterIP != corev1.ClusterIPNone {
			add("no headless Service %s-pods for the gateway", s.Name)
		}
		if !covered(r.pdbs, d) {
			add("no PodDisruptionBudget for %s", s.Name)
		}
		hpa := find(r.hpas, s.Name, func(h *autoscalingv2.HorizontalPodAutoscaler) string {
			return h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
		}, "Deployment/")
		switch {
		case s.Autoscale && hpa == nil:
			add("no HorizontalPodAutoscaler for %s (autoscale in deploy/services.json)", s.Name)
		case s.Autoscale && d.Spec.Replicas != nil:
			add("Deployment %s sets replicas beside its HorizontalPodAutoscaler; each apply would reset them", s.Name)
		}
	}
	if gw := find(r.deployments, "gateway", func(d *appsv1.Deployment) string { return d.Name }); gw == nil {
		add("no gateway Deployment")
	} else if !covered(r.pdbs, gw) {
		add("no PodDisruptionBudget for the gateway")
	}
	if overlay == "dev" {
		for _, s := range list {
			if !regexp.MustCompile(`(?m)^CREATE DATABASE ` + s.Name + `;`).Match(files["overlays/dev/databases.sql"]) {
				add("dev's databases.sql does not create database %s", s.Name)
			}
		}
	}
	problems = append(problems, checkGatewayConfig(r, files)...)
	problems = append(problems, checkNetworkPolicies(r)...)
	problems = append(problems, checkStatefulSets(r, overlay)...)
	return problems
}

// checkDeployment holds one Deployment to the rules every Deployment keeps.
func checkDeployment(d *appsv1.Deployment) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	s := d.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil {
		add("strategy %q: want RollingUpdate", s.Type)
	} else {
		if mu := s.RollingUpdate.MaxUnavailable; mu == nil || mu.IntValue() != 0 || mu.String() != "0" {
			add("maxUnavailable %v: want 0, so that a rollout never lowers capacity", mu)
		}
		if ms := s.RollingUpdate.MaxSurge; ms == nil || ms.String() != "1" {
			add("maxSurge %v: want 1", ms)
		}
	}
	pod := d.Spec.Template.Spec
	var podNonRoot *bool
	var podUser *int64
	if pod.SecurityContext != nil {
		podNonRoot, podUser = pod.SecurityContext.RunAsNonRoot, pod.SecurityContext.RunAsUser
	}
	for _, c := range pod.Containers {
		if c.ReadinessProbe == nil {
			add("container %s has no readiness probe", c.Name)
		}
		if c.LivenessProbe == nil {
			add("container %s has no liveness probe", c.Name)
		}
		if c.StartupProbe == nil {
			add("container %s has no startup probe", c.Name)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[res]; !ok {
				add("container %s has no %s request", c.Name, res)
			}
			if _, ok := c.Resources.Limits[res]; !ok {
				add("container %s has no %s limits", c.Name, res)
			}
		}
		sc := c.SecurityContext
		nonRoot, user := podNonRoot, podUser // the container's own settings win
		if sc != nil && sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if sc != nil && sc.RunAsUser != nil {
			user = sc.RunAsUser
		}
		if nonRoot == nil || !*nonRoot || (user != nil && *user == 0) {
			add("container %s may run as root: want runAsNonRoot and a non-root user", c.Name)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			add("container %s: want readOnlyRootFilesystem: true", c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("container %s: want allowPrivilegeEscalation: false", c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			add("container %s: want capabilities drop [ALL]", c.Name)
		}
		if sc != nil && sc.Privileged != nil && *sc.Privileged {
			add("container %s is privileged", c.Name)
		}
		for _, e := range c.Env {
			if e.Value != "" && secretName.MatchString(e.Name) {
				add("container %s: %s has a literal value; a secret comes from a secretKeyRef", c.Name, e.Name)
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != "emporium-secrets" {
				add("container %s: %s from Secret %q; the overlays document emporium-secrets", c.Name, e.Name,
					e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	return problems
}

// checkGatewayConfig: the gateway runs the generated configuration.
func checkGatewayConfig(r *rendered, files map[string][]byte) []string {
	for _, cm := range r.configMaps {
		if strings.HasPrefix(cm.Name, "gateway-nginx") {
			generated, err := os.ReadFile(filepath.Join(repo, "deploy/k8s/base/gateway/nginx.conf"))
			if err != nil {
				return []string{err.Error()}
			}
			if cm.Data["nginx.conf"] != string(generated) || !bytes.Contains(generated, []byte("least_conn;")) {
				return []string{"the gateway's nginx.conf is not the one deploy/nginx generates (make generate)"}
			}
			return nil
		}
	}
	return []string{"no ConfigMap gateway-nginx with the gateway's nginx.conf"}
}

// checkNetworkPolicies: a default deny; the services' public port open only
// to the gateway, their internal port only to services (and monitoring).
func checkNetworkPolicies(r *rendered) []string {
	var problems []string
	deny := false
	for _, p := range r.policies {
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			len(p.Spec.Ingress) == 0 && slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			deny = true
		}
		if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != "service" {
			continue
		}
		for _, rule := range p.Spec.Ingress {
			for _, port := range rule.Ports {
				allowed := map[int]string{8080: "gateway", 9090: "service"}[port.Port.IntValue()]
				if allowed == "" {
					problems = append(problems, fmt.Sprintf("NetworkPolicy %s opens port %s of the services", p.Name, port.Port))
					continue
				}
				if len(rule.From) == 0 {
					problems = append(problems, fmt.Sprintf("NetworkPolicy %s opens port %s to everyone", p.Name, port.Port))
				}
				for _, peer := range rule.From {
					ok := peer.PodSelector != nil && peer.NamespaceSelector == nil &&
						peer.PodSelector.MatchLabels["app.kubernetes.io/component"] == allowed
					if allowed == "service" && peer.PodSelector == nil && peer.NamespaceSelector != nil &&
						peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "monitoring" {
						ok = true // Prometheus scrapes /metrics
					}
					if !ok {
						problems = append(problems, fmt.Sprintf("NetworkPolicy %s opens the services' port %s "+
							"to more than the %s pods", p.Name, port.Port, allowed))
					}
				}
			}
		}
	}
	if !deny {
		problems = append(problems, "no default-deny ingress NetworkPolicy")
	}
	return problems
}

// checkStatefulSets: NATS as a 3-node JetStream StatefulSet; PostgreSQL and
// Redis as StatefulSets in dev, outside the cluster in prod.
func checkStatefulSets(r *rendered, overlay string) []string {
	var problems []string
	nats := find(r.statefulSets, "nats", func(s *appsv1.StatefulSet) string { return s.Name })
	if nats == nil || nats.Spec.Replicas == nil || *nats.Spec.Replicas != 3 || len(nats.Spec.VolumeClaimTemplates) == 0 {
		problems = append(problems, "NATS is not a 3-node StatefulSet with volumes")
	}
	cm := find(r.configMaps, "nats", func(c *corev1.ConfigMap) string { return c.Name })
	if cm == nil || !strings.Contains(cm.Data["nats.conf"], "jetstream") {
		problems = append(problems, "NATS runs without JetStream")
	}
	for _, name := range []string{"postgres", "redis"} {
		ss := find(r.statefulSets, name, func(s *appsv1.StatefulSet) string { return s.Name })
		svc := find(r.services, name, func(s *corev1.Service) string { return s.Name })
		switch {
		case overlay == "dev" && ss == nil:
			problems = append(problems, "dev has no "+name+" StatefulSet")
		case overlay == "prod" && (ss != nil || svc == nil || svc.Spec.Type != corev1.ServiceTypeExternalName):
			problems = append(problems, "prod's "+name+" is not an external service")
		}
	}
	if overlay == "dev" && find(r.deployments, "jaeger", func(d *appsv1.Deployment) string { return d.Name }) == nil {
		problems = append(problems, "dev has no Jaeger")
	}
	return problems
}

// covered reports whether a PodDisruptionBudget selects d's pods.
func covered(pdbs []*policyv1.PodDisruptionBudget, d *appsv1.Deployment) bool {
	for _, p := range pdbs {
		if p.Spec.Selector == nil || len(p.Spec.Selector.MatchLabels) == 0 {
			continue
		}
		match := true
		for k, v := range p.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// find returns the first item whose key (with an optional prefix) is name.
func find[T any](items []T, name string, key func(T) string, prefix ...string) T {
	var zero T
	want := strings.Join(prefix, "") + name
	for _, it := range items {
		if key(it) == want {
			return it
		}
	}
	return zero
}
