package e2e

// deploy/kubernetes: no cluster runs here, so the tests decode the
// manifests strictly into the Kubernetes API's own types (k8s.io/api, via
// sigs.k8s.io/yaml: an unknown or misspelt field, a duplicate key or a
// value of the wrong type is an error, as kubectl apply --validate=strict
// would make it), check that their names, labels, ports, volumes, probes,
// resources, budgets, autoscalers and grace periods agree with each other,
// with the ConfigMaps' pool.toml and nginx.conf and with the Containerfile,
// and then run the pods' processes for real (deploy_kube_pods_test.go).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/BurntSushi/toml"

	"github.com/gofpm/gofpm/fpm/internal/config"
)

const gofpmImage = "gofpm:dev"

// kubeFile is one manifest file, decoded.
type kubeFile struct {
	path        string
	configMaps  []*corev1.ConfigMap
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	netpols     []*networkingv1.NetworkPolicy
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

// decodeKube decodes every document of a manifest file strictly into the
// API type its apiVersion and kind name: the kinds the manifests use, and
// no other.
func decodeKube(path string, b []byte) (*kubeFile, error) {
	f := &kubeFile{path: path}
	r := utilyaml.NewYAMLReader(bufioReader(b))
	seen := map[string]bool{}
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		var any0 any
		if err := yaml.Unmarshal(doc, &any0); err == nil && any0 == nil {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		var obj metav1.Object
		var add func()
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			obj, add = o, func() { f.configMaps = append(f.configMaps, o) }
		case "v1 Service":
			o := &corev1.Service{}
			obj, add = o, func() { f.services = append(f.services, o) }
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			obj, add = o, func() { f.deployments = append(f.deployments, o) }
		case "networking.k8s.io/v1 NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			obj, add = o, func() { f.netpols = append(f.netpols, o) }
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			obj, add = o, func() { f.pdbs = append(f.pdbs, o) }
		case "autoscaling/v2 HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			obj, add = o, func() { f.hpas = append(f.hpas, o) }
		default:
			return nil, fmt.Errorf("%s: document %d: apiVersion %q kind %q is not one this test decodes", path, i, tm.APIVersion, tm.Kind)
		}
		// The API server's own decoder (sigs.k8s.io/json): field names
		// are case-sensitive, and strict errors carry the field's path.
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", path, i, tm.Kind, err)
		}
		strict, err := kjson.UnmarshalStrict(j, obj)
		if err == nil {
			err = errors.Join(strict...)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", path, i, tm.Kind, err)
		}
		if obj.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d (%s) has no metadata.name", path, i, tm.Kind)
		}
		if key := tm.Kind + "/" + obj.GetName(); seen[key] {
			return nil, fmt.Errorf("%s: two %s named %q", path, tm.Kind, obj.GetName())
		} else {
			seen[key] = true
		}
		add()
	}
	return f, nil
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func loadKube(t *testing.T, path string) *kubeFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeKube(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *kubeFile) configMap(name string) *corev1.ConfigMap {
	for _, c := range f.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (f *kubeFile) deployment(name string) *appsv1.Deployment {
	for _, d := range f.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (f *kubeFile) service(name string) *corev1.Service {
	for _, s := range f.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// selects reports whether every label of sel is in labels.
func selects(sel, labels map[string]string) bool {
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

// matchLabels is a selector's labels; a selector with expressions is not
// one the tests can follow.
func matchLabels(t *testing.T, s *metav1.LabelSelector, who string) map[string]string {
	t.Helper()
	if s == nil {
		return nil
	}
	if len(s.MatchExpressions) > 0 {
		t.Errorf("%s: matchExpressions, which this test does not follow", who)
	}
	return s.MatchLabels
}

// selected returns the one Deployment whose pods sel selects.
func selected(t *testing.T, f *kubeFile, sel map[string]string, who string) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, d := range f.deployments {
		if selects(sel, d.Spec.Template.Labels) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: selector %v selects %d Deployments' pods, want 1", who, sel, len(found))
	}
	return found[0]
}

// isSidecar reports whether an init container is a native sidecar: one
// that keeps running beside the containers (restartPolicy: Always).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podContainers returns the pod's sidecars, then its containers: every
// container that runs for the pod's life.
func podContainers(d *appsv1.Deployment) []*corev1.Container {
	var out []*corev1.Container
	spec := &d.Spec.Template.Spec
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// containerPort finds a container port of the Deployment by name or number.
func containerPort(d *appsv1.Deployment, port intstr.IntOrString) (int, bool) {
	for _, c := range podContainers(d) {
		for _, p := range c.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return int(p.ContainerPort), true
			}
		}
	}
	return 0, false
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// checkResources: requests for the scheduler and the HPA's CPU
// utilisation (computed over every container, sidecars included), and a
// memory limit, so a leaking worker set is the pod's own problem.
func checkResources(t *testing.T, who string, r corev1.ResourceRequirements) {
	t.Helper()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := r.Requests[name]; !ok || q.Sign() <= 0 {
			t.Errorf("%s: no resources.requests.%s", who, name)
		}
	}
	mem, ok := r.Limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("%s: no resources.limits.memory", who)
	} else if req := r.Requests[corev1.ResourceMemory]; mem.Cmp(req) < 0 {
		t.Errorf("%s: limits.memory %s below requests.memory %s", who, mem.String(), req.String())
	}
	if lim, ok := r.Limits[corev1.ResourceCPU]; ok {
		if req := r.Requests[corev1.ResourceCPU]; lim.Cmp(req) < 0 {
			t.Errorf("%s: limits.cpu %s below requests.cpu %s", who, lim.String(), req.String())
		}
	}
}

// checkProbe: a probe is exec or httpGet (on a container port).
func checkProbe(t *testing.T, d *appsv1.Deployment, who, what string, p *corev1.Probe) {
	t.Helper()
	if p == nil {
		t.Errorf("%s: no %s", who, what)
		return
	}
	switch {
	case p.HTTPGet != nil:
		if _, ok := containerPort(d, p.HTTPGet.Port); !ok {
			t.Errorf("%s: %s port %s is no container port", who, what, p.HTTPGet.Port.String())
		}
	case p.Exec != nil && len(p.Exec.Command) > 0:
	default:
		t.Errorf("%s: %s is neither httpGet nor exec", who, what)
	}
}

// checkKubeRefs checks what makes a manifest file hang together.
func checkKubeRefs(t *testing.T, f *kubeFile) {
	t.Helper()
	for _, cm := range f.configMaps {
		if len(cm.Data) == 0 {
			t.Errorf("ConfigMap %s has no data", cm.Name)
		}
	}
	for _, d := range f.deployments {
		spec := &d.Spec.Template.Spec
		if !selects(matchLabels(t, d.Spec.Selector, d.Name), d.Spec.Template.Labels) {
			t.Errorf("Deployment %s: spec.selector does not select its own pods", d.Name)
		}
		if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("Deployment %s: pod securityContext.runAsNonRoot is not true", d.Name)
		}
		if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= 0 {
			t.Errorf("Deployment %s: no terminationGracePeriodSeconds", d.Name)
		}
		// No container talks to the API: no token in the pods.
		if a := spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("Deployment %s: automountServiceAccountToken is not false", d.Name)
		}
		volumes := map[string]*corev1.Volume{}
		for i := range spec.Volumes {
			v := &spec.Volumes[i]
			volumes[v.Name] = v
			if v.ConfigMap != nil && f.configMap(v.ConfigMap.Name) == nil {
				t.Errorf("Deployment %s: volume %s names ConfigMap %q, which is not in the file", d.Name, v.Name, v.ConfigMap.Name)
			}
		}
		for i := range spec.InitContainers {
			if !isSidecar(&spec.InitContainers[i]) {
				t.Errorf("Deployment %s: init container %s is no sidecar (restartPolicy: Always); this test checks no other", d.Name, spec.InitContainers[i].Name)
			}
		}
		for _, c := range podContainers(d) {
			who := fmt.Sprintf("Deployment %s, container %s", d.Name, c.Name)
			if c.Name == "" || c.Image == "" {
				t.Errorf("Deployment %s: a container without name or image", d.Name)
			}
			sc := c.SecurityContext
			if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Errorf("%s: runAsUser unset or 0, want a non-root uid", who)
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", who)
			}
			checkResources(t, who, c.Resources)
			for _, m := range c.VolumeMounts {
				v, ok := volumes[m.Name]
				if !ok {
					t.Errorf("%s: volumeMount %q names no volume", who, m.Name)
					continue
				}
				if m.SubPath != "" {
					if v.ConfigMap == nil || f.configMap(v.ConfigMap.Name) == nil || f.configMap(v.ConfigMap.Name).Data[m.SubPath] == "" {
						t.Errorf("%s: subPath %q is no key of the volume's ConfigMap", who, m.SubPath)
					}
				}
			}
			checkProbe(t, d, who, "startupProbe", c.StartupProbe)
			checkProbe(t, d, who, "livenessProbe", c.LivenessProbe)
			checkProbe(t, d, who, "readinessProbe", c.ReadinessProbe)
		}
		// The containers stopped first keep serving while the pod leaves
		// the endpoints; sidecars are stopped after them.
		for _, c := range spec.Containers {
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil || len(c.Lifecycle.PreStop.Exec.Command) == 0 {
				t.Errorf("Deployment %s, container %s: no preStop exec command", d.Name, c.Name)
			}
		}
	}
	for _, s := range f.services {
		dep := selected(t, f, s.Spec.Selector, "Service "+s.Name)
		for _, p := range s.Spec.Ports {
			if _, ok := containerPort(dep, p.TargetPort); !ok {
				t.Errorf("Service %s: targetPort %s is no container port of Deployment %s", s.Name, p.TargetPort.String(), dep.Name)
			}
		}
	}
	for _, np := range f.netpols {
		dep := selected(t, f, matchLabels(t, &np.Spec.PodSelector, np.Name), "NetworkPolicy "+np.Name)
		for _, rule := range np.Spec.Ingress {
			for _, from := range rule.From {
				if from.PodSelector != nil && from.NamespaceSelector == nil {
					selected(t, f, matchLabels(t, from.PodSelector, np.Name), "NetworkPolicy "+np.Name+" from")
				}
			}
			for _, p := range rule.Ports {
				if p.Port == nil {
					t.Errorf("NetworkPolicy %s: a rule for every port", np.Name)
				} else if _, ok := containerPort(dep, *p.Port); !ok {
					t.Errorf("NetworkPolicy %s: port %s is no container port of Deployment %s", np.Name, p.Port.String(), dep.Name)
				}
			}
		}
	}
	// Every Deployment has a disruption budget that leaves a pod serving.
	budgeted := map[*appsv1.Deployment]bool{}
	for _, pdb := range f.pdbs {
		dep := selected(t, f, matchLabels(t, pdb.Spec.Selector, pdb.Name), "PodDisruptionBudget "+pdb.Name)
		budgeted[dep] = true
		switch {
		case pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil:
			t.Errorf("PodDisruptionBudget %s: minAvailable and maxUnavailable both", pdb.Name)
		case pdb.Spec.MaxUnavailable != nil:
			if n := pdb.Spec.MaxUnavailable; n.Type != intstr.Int || n.IntVal < 1 || n.IntVal >= replicas(dep) {
				t.Errorf("PodDisruptionBudget %s: maxUnavailable %s, want 1..%d (the Deployment's replicas - 1)", pdb.Name, n.String(), replicas(dep)-1)
			}
		case pdb.Spec.MinAvailable != nil:
			if n := pdb.Spec.MinAvailable; n.Type != intstr.Int || n.IntVal < 1 || n.IntVal >= replicas(dep) {
				t.Errorf("PodDisruptionBudget %s: minAvailable %s blocks every drain or protects nothing (replicas %d)", pdb.Name, n.String(), replicas(dep))
			}
		default:
			t.Errorf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", pdb.Name)
		}
	}
	for _, d := range f.deployments {
		if !budgeted[d] {
			t.Errorf("Deployment %s: no PodDisruptionBudget", d.Name)
		}
	}
	for _, h := range f.hpas {
		checkHPA(t, f, h)
	}
}

// checkHPA checks an autoscaler against the Deployment it scales (in f).
func checkHPA(t *testing.T, f *kubeFile, h *autoscalingv2.HorizontalPodAutoscaler) *appsv1.Deployment {
	t.Helper()
	ref := h.Spec.ScaleTargetRef
	d := f.deployment(ref.Name)
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || d == nil {
		t.Fatalf("HorizontalPodAutoscaler %s: scaleTargetRef %s %s %s is no Deployment in %s", h.Name, ref.APIVersion, ref.Kind, ref.Name, f.path)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != replicas(d) {
		t.Errorf("HorizontalPodAutoscaler %s: minReplicas %v, want the Deployment's replicas %d (what its budgets are made for)", h.Name, h.Spec.MinReplicas, replicas(d))
	}
	if h.Spec.MaxReplicas <= replicas(d) {
		t.Errorf("HorizontalPodAutoscaler %s: maxReplicas %d leaves no room above %d", h.Name, h.Spec.MaxReplicas, replicas(d))
	}
	if len(h.Spec.Metrics) == 0 {
		t.Errorf("HorizontalPodAutoscaler %s: no metrics", h.Name)
	}
	for _, m := range h.Spec.Metrics {
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			r := m.Resource
			if r.Name != corev1.ResourceCPU || r.Target.Type != autoscalingv2.UtilizationMetricType || r.Target.AverageUtilization == nil {
				t.Errorf("HorizontalPodAutoscaler %s: resource metric %s %s, want cpu Utilization", h.Name, r.Name, r.Target.Type)
			} else if u := *r.Target.AverageUtilization; u < 30 || u > 90 {
				t.Errorf("HorizontalPodAutoscaler %s: averageUtilization %d%%", h.Name, u)
			}
			// Utilisation is of the requests, which every container has
			// (checkResources).
		case autoscalingv2.PodsMetricSourceType:
			if m.Pods.Target.Type != autoscalingv2.AverageValueMetricType || m.Pods.Target.AverageValue == nil {
				t.Errorf("HorizontalPodAutoscaler %s: pods metric %s, want an AverageValue target", h.Name, m.Pods.Metric.Name)
			}
		default:
			t.Errorf("HorizontalPodAutoscaler %s: metric type %s is not one this test checks", h.Name, m.Type)
		}
	}
	return d
}

// mountedKey returns the ConfigMap data a container sees at path.
func mountedKey(t *testing.T, f *kubeFile, d *appsv1.Deployment, c *corev1.Container, path string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm := f.configMap(v.ConfigMap.Name)
			if cm == nil {
				continue
			}
			switch {
			case m.SubPath != "" && path == m.MountPath:
				return cm.Data[m.SubPath]
			case m.SubPath == "" && filepath.Dir(path) == m.MountPath:
				return cm.Data[filepath.Base(path)]
			}
		}
	}
	t.Fatalf("Deployment %s, container %s: %s is no ConfigMap key mounted there", d.Name, c.Name, path)
	return ""
}

// emptyDirAt reports whether dir is (under) the mount of an emptyDir volume.
func emptyDirAt(d *appsv1.Deployment, c *corev1.Container, dir string) (mountPath, volume string) {
	for _, m := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil && (dir == m.MountPath || strings.HasPrefix(dir, m.MountPath+"/")) {
				return m.MountPath, v.Name
			}
		}
	}
	return "", ""
}

func containerNamed(d *appsv1.Deployment, image string) *corev1.Container {
	for _, c := range podContainers(d) {
		if strings.Contains(c.Image, image) {
			return c
		}
	}
	return nil
}

func execCommand(h *corev1.ProbeHandler) []string {
	if h == nil || h.Exec == nil {
		return nil
	}
	return h.Exec.Command
}

func probeCommand(p *corev1.Probe) []string {
	if p == nil {
		return nil
	}
	return execCommand(&p.ProbeHandler)
}

func preStopCommand(c *corev1.Container) []string {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		return nil
	}
	return c.Lifecycle.PreStop.Exec.Command
}

func graceOf(d *appsv1.Deployment) time.Duration {
	if p := d.Spec.Template.Spec.TerminationGracePeriodSeconds; p != nil {
		return time.Duration(*p) * time.Second
	}
	return 30 * time.Second // the API's default
}

// gofpmPod is what the tests take from a Deployment that runs gofpm.
type gofpmPod struct {
	dep        *appsv1.Deployment
	c          *corev1.Container
	args       []string
	poolText   string
	cfg        *config.Config
	pool       *config.Pool
	startup    []string
	liveness   []string
	readiness  []string
	preStop    []string
	grace      time.Duration
	uid, gid   int
	fsGroup    int
	imageEntry string
	metrics    string // metrics_listen
}

// checkGofpmPod checks the gofpm container of Deployment name against the
// Containerfile and its pool.toml, and runs gofpm check on that pool.
func checkGofpmPod(t *testing.T, f *kubeFile, name string, img *cfImage) *gofpmPod {
	t.Helper()
	g := &gofpmPod{dep: f.deployment(name), imageEntry: img.entrypoint[0]}
	if g.dep == nil {
		t.Fatalf("no Deployment %s", name)
	}
	if g.c = containerNamed(g.dep, gofpmImage); g.c == nil {
		t.Fatalf("Deployment %s has no %s container", name, gofpmImage)
	}
	if slices.IndexFunc(g.dep.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == g.c.Name }) < 0 {
		t.Errorf("Deployment %s: gofpm is not one of the pod's containers (a sidecar would outlive nothing)", name)
	}
	spec := &g.dep.Spec.Template.Spec
	g.grace = graceOf(g.dep)
	if sc := spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		g.fsGroup = int(*sc.FSGroup)
	}
	sc := g.c.SecurityContext
	if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil {
		t.Fatalf("Deployment %s: gofpm sets no runAsUser/runAsGroup", name)
	}
	g.uid, g.gid = int(*sc.RunAsUser), int(*sc.RunAsGroup)
	if u, gr := containerUser(t, img); u != g.uid || gr != g.gid {
		t.Errorf("Deployment %s: gofpm runs as %d:%d, the image's USER is %s", name, g.uid, g.gid, img.user)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("Deployment %s: gofpm's root filesystem is writable; it needs only its emptyDir", name)
	}
	if len(g.c.Command) > 0 {
		t.Errorf("Deployment %s: gofpm sets command; the image's ENTRYPOINT %v is the binary", name, img.entrypoint)
	}
	g.args = g.c.Args
	if len(g.args) == 0 || g.args[0] != "run" || slices.Contains(g.args, "-R") {
		t.Errorf("Deployment %s: args %v, want run -c FILE without -R", name, g.args)
	}
	if lf := flagValue(g.args, "--log-format"); lf != "json" {
		t.Errorf("Deployment %s: --log-format %q: want json for the cluster's log collector", name, lf)
	}
	confPath := flagValue(g.args, "-c", "--config")
	g.poolText = mountedKey(t, f, g.dep, g.c, confPath)

	// Validate the pool as the image's non-root user would.
	tmp := shortTempDir(t)
	orig := filepath.Join(tmp, "pool.toml")
	if err := os.WriteFile(orig, []byte(g.poolText), 0o644); err != nil {
		t.Fatal(err)
	}
	g.cfg = loadAsNonRoot(t, orig, g.uid)
	g.pool = g.cfg.Pools[g.cfg.PoolOrder[0]]
	if cmd := g.pool.Command[0]; !imageHas(t, img, cmd) {
		t.Errorf("Deployment %s: the pool's command %s is not in the image", name, cmd)
	}
	// The real gofpm check, as that user, with no -R: the command path
	// points into a layout of the image's files; the /run/gofpm socket
	// paths stay as they are (check does not need their directory).
	layout := imageLayout(t, img)
	checked := filepath.Join(tmp, "checked.toml")
	if err := os.WriteFile(checked, []byte(strings.ReplaceAll(g.poolText, `"/app/`, `"`+layout+`/app/`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runAs(t, []string{bins.gofpm, "check", "-c", checked}, g.uid, g.gid); code != 0 {
		t.Errorf("Deployment %s: gofpm check on the ConfigMap's pool.toml: exit %d\n%s", name, code, out)
	}

	// Probes: the image's gofpm, asking the ping page of the pool.
	g.startup = probeCommand(g.c.StartupProbe)
	g.liveness = probeCommand(g.c.LivenessProbe)
	g.readiness = probeCommand(g.c.ReadinessProbe)
	for what, p := range map[string][]string{"startup": g.startup, "liveness": g.liveness, "readiness": g.readiness} {
		if len(p) < 2 || p[0] != g.imageEntry || p[1] != "ping" {
			t.Errorf("Deployment %s: %s probe %v: want %s ping", name, what, p, g.imageEntry)
		}
		if path := flagValue(p, "--path"); g.pool.PingPath == "" || path != g.pool.PingPath {
			t.Errorf("Deployment %s: %s probe --path %q, the pool's ping_path is %q", name, what, path, g.pool.PingPath)
		}
	}
	// Startup and liveness ask the master (pm_status_listen), so busy
	// workers do not get a pod restarted; readiness goes through a worker.
	for what, p := range map[string][]string{"startup": g.startup, "liveness": g.liveness} {
		if s := flagValue(p, "-s"); g.pool.PMStatusListen == "" || s != "unix:"+g.pool.PMStatusListen {
			t.Errorf("Deployment %s: %s asks %q, want unix:<pm_status_listen> (%q)", name, what, s, g.pool.PMStatusListen)
		}
	}
	// The startup probe gives a slow start its time, then liveness counts.
	if sp := g.c.StartupProbe; sp != nil && time.Duration(max(sp.PeriodSeconds, 1)*max(sp.FailureThreshold, 1))*time.Second < 10*time.Second {
		t.Errorf("Deployment %s: the startup probe gives the master %d × %d s, less than 10 s", name, sp.PeriodSeconds, sp.FailureThreshold)
	}
	want := "unix:" + g.pool.Listen
	if !g.pool.IsUnix() {
		_, port, _ := strings.Cut(g.pool.Listen, ":")
		want = "127.0.0.1:" + port
	}
	if s := flagValue(g.readiness, "-s"); s != want {
		t.Errorf("Deployment %s: readiness asks %q, want %q (the pool's listen %s)", name, s, want, g.pool.Listen)
	}
	// Unix sockets live in an emptyDir (the root filesystem is read-only).
	for _, p := range []string{g.pool.Listen, g.pool.PMStatusListen} {
		if strings.HasPrefix(p, "/") {
			if mp, _ := emptyDirAt(g.dep, g.c, filepath.Dir(p)); mp == "" {
				t.Errorf("Deployment %s: socket %s is in no emptyDir of the gofpm container", name, p)
			}
		}
	}
	// Memory: the limit holds pm_max_children workers of worker_max_memory
	// when the pool sets one.
	if wm := g.pool.WorkerMaxMemory; wm > 0 {
		lim := g.c.Resources.Limits[corev1.ResourceMemory]
		if need := resource.NewQuantity(int64(wm)*int64(g.pool.PMMaxChildren), resource.BinarySI); lim.Cmp(*need) < 0 {
			t.Errorf("Deployment %s: limits.memory %s < pm_max_children × worker_max_memory %s", name, lim.String(), need.String())
		}
	}
	g.preStop = preStopCommand(g.c)
	checkMetricsScrape(t, f, g)
	return g
}

// checkMetricsScrape: metrics_listen on the pod's addresses, declared as
// the gofpm container's port metrics, named by the scrape annotations,
// and admitted by every NetworkPolicy over the pods.
func checkMetricsScrape(t *testing.T, f *kubeFile, g *gofpmPod) {
	t.Helper()
	var raw struct {
		MetricsListen string `toml:"metrics_listen"`
	}
	if _, err := toml.Decode(g.poolText, &raw); err != nil {
		t.Fatal(err)
	}
	g.metrics = raw.MetricsListen
	host, port, ok := strings.Cut(g.metrics, ":")
	if !ok || host != "0.0.0.0" {
		t.Fatalf("Deployment %s: metrics_listen %q, want 0.0.0.0:PORT (Prometheus scrapes the pod's address)", g.dep.Name, g.metrics)
	}
	found := false
	for _, p := range g.c.Ports {
		found = found || (p.Name == "metrics" && strconv.Itoa(int(p.ContainerPort)) == port)
	}
	if !found {
		t.Errorf("Deployment %s: the gofpm container has no port metrics = %s (metrics_listen)", g.dep.Name, port)
	}
	ann := g.dep.Spec.Template.Annotations
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"} {
		if ann[k] != want {
			t.Errorf("Deployment %s: pod annotation %s = %q, want %q", g.dep.Name, k, ann[k], want)
		}
	}
	for _, np := range f.netpols {
		if !selects(np.Spec.PodSelector.MatchLabels, g.dep.Spec.Template.Labels) {
			continue
		}
		admitted := false
		for _, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				admitted = true
			}
			for _, p := range rule.Ports {
				admitted = admitted || (p.Port != nil && (p.Port.String() == port || p.Port.String() == "metrics"))
			}
		}
		if !admitted {
			t.Errorf("NetworkPolicy %s shuts metrics_listen's port %s off from Prometheus", np.Name, port)
		}
	}
}

// scrapeMetrics gets /metrics from addr (metrics_listen moved to
// loopback) and checks the series the saturation autoscaler reads.
func scrapeMetrics(t *testing.T, addr, pool string) {
	t.Helper()
	waitDial(t, "tcp", addr)
	code, body := httpGet(t, http.DefaultClient, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics on metrics_listen: %d %.200q", code, body)
	}
	for _, want := range []string{"phpfpm_up", "phpfpm_active_processes{", `pool="` + pool + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%.2000s", want, body)
		}
	}
}

// imageHas reports whether the image copies a file to path.
func imageHas(t *testing.T, img *cfImage, path string) bool {
	for _, c := range img.copies(t) {
		if c.dst == path {
			return true
		}
	}
	return false
}

// nginxPod is the nginx container of a Deployment and its nginx.conf.
type nginxPod struct {
	dep     *appsv1.Deployment
	c       *corev1.Container
	conf    string
	preStop []string
	grace   time.Duration
	uid     int
}

func checkNginxPod(t *testing.T, f *kubeFile, name string) *nginxPod {
	t.Helper()
	n := &nginxPod{dep: f.deployment(name)}
	if n.dep == nil {
		t.Fatalf("no Deployment %s", name)
	}
	if n.c = containerNamed(n.dep, "nginx"); n.c == nil {
		t.Fatalf("Deployment %s has no nginx container", name)
	}
	n.conf = mountedKey(t, f, n.dep, n.c, "/etc/nginx/nginx.conf")
	n.preStop = preStopCommand(n.c)
	n.grace = graceOf(n.dep)
	n.uid = int(*n.c.SecurityContext.RunAsUser) // checkKubeRefs: set
	port := nginxDirective(t, n.conf, "listen")
	if _, ok := containerPort(n.dep, intstr.Parse(port)); !ok {
		t.Errorf("Deployment %s: nginx listens on %s, which is no container port", name, port)
	}
	if strings.Contains(n.conf, "daemon off") {
		t.Errorf("nginx.conf sets daemon off: the nginx image's command already passes -g 'daemon off;'")
	}
	// Temp files and the pid file go where the container can write.
	for _, p := range regexp.MustCompile(`(?m)^\s*(?:pid|\w+_temp_path)\s+(\S+);`).FindAllStringSubmatch(n.conf, -1) {
		if mp, _ := emptyDirAt(n.dep, n.c, filepath.Dir(p[1])); mp == "" {
			t.Errorf("Deployment %s: nginx writes %s, in no emptyDir (read-only root)", name, p[1])
		}
	}
	return n
}

// nginxDirective returns the first argument of the first name directive.
func nginxDirective(t *testing.T, conf, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + name + `\s+([^;\s]+)[^;]*;`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("nginx.conf has no %s directive", name)
	}
	return m[1]
}

// sleepSeconds reads the N of a preStop ["sleep", "N"].
func sleepSeconds(t *testing.T, cmd []string) time.Duration {
	t.Helper()
	if len(cmd) != 2 || cmd[0] != "sleep" {
		t.Fatalf("preStop %v: want [sleep N]", cmd)
	}
	n, err := strconv.Atoi(cmd[1])
	if err != nil {
		t.Fatalf("preStop %v: %v", cmd, err)
	}
	return time.Duration(n) * time.Second
}

// nginxTest runs nginx -t on conf (skipped, or failed under CI, without nginx).
func nginxTest(t *testing.T, conf string) {
	t.Helper()
	dir, path := writeNginxConf(t, conf)
	out, err := exec.Command(nginxBin, "-t", "-q", "-e", "stderr", "-p", dir, "-c", path).CombinedOutput()
	if err != nil {
		t.Errorf("nginx -t: %v\n%s\n%s", err, out, conf)
	}
}

// writeNginxConf writes conf as nginx.conf in a temp dir, nginx's -p
// prefix for it (skipped, or failed under CI, without nginx).
func writeNginxConf(t *testing.T, conf string) (dir, path string) {
	t.Helper()
	requireNginx(t)
	dir = shortTempDir(t)
	path = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func requireNginx(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is not installed (make deps installs it): %v", err)
		}
		t.Skip("nginx is not installed; run make deps")
	}
}

// podDirs stands for a pod's emptyDirs: mountPath -> a temp dir anyone in
// the pod can write (emptyDir's 0777).
type podDirs map[string]string

func newPodDirs(t *testing.T, paths ...string) podDirs {
	t.Helper()
	base := shortTempDir(t)
	p := podDirs{}
	for i, mp := range paths {
		d := filepath.Join(base, strconv.Itoa(i))
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // past the umask
		p[mp] = d
	}
	return p
}

// rewrite maps the pod's absolute paths in s to the test's dirs.
func (p podDirs) rewrite(s string) string {
	var pairs []string
	for mp, d := range p {
		pairs = append(pairs, mp+"/", d+"/", mp+" ", d+" ", mp+";", d+";", mp+`"`, d+`"`)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// TestKubeManifests checks the manifests: references inside each file,
// the gofpm and nginx containers against the Containerfile, the pool.toml
// and nginx.conf of the ConfigMaps (gofpm check, nginx -t), resources,
// budgets and autoscalers, and the stop budget of each pod.
func TestKubeManifests(t *testing.T) {
	img := parseContainerfile(t, containerfile)

	t.Run("sidecar", func(t *testing.T) {
		f := loadKube(t, "../../deploy/kubernetes/gofpm-sidecar.yaml")
		checkKubeRefs(t, f)
		g := checkGofpmPod(t, f, "gofpm-sidecar", img)
		n := checkNginxPod(t, f, "gofpm-sidecar")
		if !g.pool.IsUnix() {
			t.Fatalf("the sidecar pool listens on %s, want a Unix socket", g.pool.Listen)
		}
		// nginx is a native sidecar: started before gofpm (once its
		// startup probe passes), stopped after gofpm has exited.
		if !isSidecar(n.c) || slices.IndexFunc(n.dep.Spec.Template.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == n.c.Name }) < 0 {
			t.Errorf("nginx is not an init container with restartPolicy: Always")
		}
		if n.c.StartupProbe == nil || n.c.StartupProbe.HTTPGet == nil {
			t.Errorf("the nginx sidecar has no httpGet startupProbe: gofpm would start before nginx is up")
		}
		if n.preStop != nil {
			t.Errorf("the nginx sidecar has a preStop %v: it is stopped after gofpm, nothing to wait for", n.preStop)
		}
		// nginx passes to the pool's socket, in a dir both containers share.
		if pass := nginxDirective(t, n.conf, "fastcgi_pass"); pass != "unix:"+g.pool.Listen {
			t.Errorf("nginx fastcgi_pass %s, the pool listens on %s", pass, g.pool.Listen)
		}
		gm, gv := emptyDirAt(g.dep, g.c, filepath.Dir(g.pool.Listen))
		nm, nv := emptyDirAt(n.dep, n.c, filepath.Dir(g.pool.Listen))
		if gv == "" || gv != nv || gm != nm {
			t.Errorf("the socket dir %s is not one emptyDir mounted at the same path in both containers (%s at %s, %s at %s)",
				filepath.Dir(g.pool.Listen), gv, gm, nv, nm)
		}
		// nginx (another uid) gets in through the pod's fsGroup.
		if g.fsGroup == 0 || g.pool.ListenGroup != strconv.Itoa(g.fsGroup) || g.pool.ListenMode != "0660" {
			t.Errorf("listen_group %q / listen_mode %q: want the pod's fsGroup %d and 0660",
				g.pool.ListenGroup, g.pool.ListenMode, g.fsGroup)
		}
		// Stop budget: gofpm's preStop sleep, its graceful stop, then
		// nginx's (it has nothing left in flight; 5 s), and a margin.
		sleep := sleepSeconds(t, g.preStop)
		if need := sleep + g.cfg.ProcessControlTimeout.D() + 10*time.Second; g.grace < need {
			t.Errorf("terminationGracePeriodSeconds %s < preStop %s + process_control_timeout %s + nginx's stop 5s + 5s",
				g.grace, sleep, g.cfg.ProcessControlTimeout.D())
		}
		nginxTest(t, newPodDirs(t, "/run/gofpm", "/tmp").rewrite(n.conf))
		kubeDocShows(t, fmt.Sprintf("terminationGracePeriodSeconds: %d", int(g.grace.Seconds())),
			fmt.Sprintf("`preStop` sleeps %d s", int(sleep.Seconds())), fmt.Sprintf("`fsGroup: %d`", g.fsGroup))
		if len(f.hpas) != 1 {
			t.Fatalf("%d HorizontalPodAutoscalers, want 1", len(f.hpas))
		}
		hpa := f.hpas[0]
		kubeDocShows(t, fmt.Sprintf("minReplicas: %d", *hpa.Spec.MinReplicas), fmt.Sprintf("maxReplicas: %d", hpa.Spec.MaxReplicas))

		// The custom-metric variant replaces this HPA (same name) and
		// scales the same Deployment on the pool's busy workers.
		sat := loadKube(t, "../../deploy/kubernetes/gofpm-hpa-saturation.yaml")
		if len(sat.hpas) != 1 || len(sat.configMaps)+len(sat.deployments)+len(sat.services)+len(sat.pdbs)+len(sat.netpols) != 0 {
			t.Fatalf("gofpm-hpa-saturation.yaml: want one HorizontalPodAutoscaler and nothing else")
		}
		h := sat.hpas[0]
		if h.Name != hpa.Name {
			t.Errorf("the saturation HPA is named %s, the CPU one %s: applying it would add a second autoscaler", h.Name, hpa.Name)
		}
		sat.deployments = f.deployments
		checkHPA(t, sat, h)
		found := false
		for _, m := range h.Spec.Metrics {
			if m.Type != autoscalingv2.PodsMetricSourceType {
				continue
			}
			found = true
			if m.Pods.Metric.Name != "phpfpm_active_processes" {
				t.Errorf("pods metric %s, want phpfpm_active_processes (the exporter's busy workers)", m.Pods.Metric.Name)
			}
			// Below pm_max_children: pods are added before every worker
			// of a pod is busy and requests wait in the backlog.
			target := m.Pods.Target.AverageValue
			if target == nil || target.Sign() <= 0 || target.Cmp(*resource.NewQuantity(int64(g.pool.PMMaxChildren), resource.DecimalSI)) >= 0 {
				t.Errorf("averageValue %v: want above 0 and below pm_max_children %d", target, g.pool.PMMaxChildren)
			} else {
				kubeDocShows(t, fmt.Sprintf("averageValue: %q", target.String()), fmt.Sprintf("pm_max_children = %d", g.pool.PMMaxChildren))
			}
		}
		if !found {
			t.Error("gofpm-hpa-saturation.yaml has no Pods metric")
		}
	})

	t.Run("tcp", func(t *testing.T) {
		f := loadKube(t, "../../deploy/kubernetes/gofpm-tcp.yaml")
		checkKubeRefs(t, f)
		g := checkGofpmPod(t, f, "gofpm", img)
		n := checkNginxPod(t, f, "gofpm-nginx")
		host, port, ok := strings.Cut(g.pool.Listen, ":")
		if !ok || host != "0.0.0.0" {
			t.Fatalf("the TCP pool listens on %q, want 0.0.0.0:PORT (the pod's addresses)", g.pool.Listen)
		}
		if p, ok := containerPort(g.dep, intstr.Parse(port)); !ok || strconv.Itoa(p) != port {
			t.Errorf("the gofpm container declares no port %s", port)
		}
		// The upstream names the Service that selects the gofpm pods, on
		// the Service's port that leads to the pool's port.
		up := regexp.MustCompile(`(?s)upstream gofpm \{(.*?)\n\s*\}`).FindStringSubmatch(n.conf)
		if up == nil {
			t.Fatal("nginx.conf has no upstream gofpm")
		}
		servers := regexp.MustCompile(`(?m)^\s*server\s+(\S+):(\d+)`).FindAllStringSubmatch(up[1], -1)
		if len(servers) == 0 {
			t.Fatal("upstream gofpm has no server")
		}
		for _, s := range servers {
			svc := f.service(s[1])
			if svc == nil {
				t.Errorf("upstream server %s:%s: no Service %s", s[1], s[2], s[1])
				continue
			}
			if dep := selected(t, f, svc.Spec.Selector, "Service "+svc.Name); dep != g.dep {
				t.Errorf("Service %s selects %s, not the gofpm pods", svc.Name, dep.Name)
			}
			found := false
			for _, p := range svc.Spec.Ports {
				if strconv.Itoa(int(p.Port)) == s[2] {
					cp, _ := containerPort(g.dep, p.TargetPort)
					found = strconv.Itoa(cp) == port
				}
			}
			if !found {
				t.Errorf("upstream server %s:%s does not lead to the pool's port %s", s[1], s[2], port)
			}
		}
		if pass := nginxDirective(t, n.conf, "fastcgi_pass"); pass != "gofpm" {
			t.Errorf("fastcgi_pass %s, want the upstream gofpm", pass)
		}
		for _, d := range []string{"fastcgi_keep_conn on", "fastcgi_next_upstream error timeout"} {
			if !strings.Contains(n.conf, d+";") {
				t.Errorf("nginx.conf lacks %s;", d)
			}
		}
		// Kept idle connections each hold a gofpm worker: fewer of them
		// than workers in all (docs/scaling.md), at gofpm's fewest pods
		// (the HPA's minReplicas, checkHPA) and nginx's replicas (no HPA
		// scales nginx up).
		for _, h := range f.hpas {
			if h.Spec.ScaleTargetRef.Name == n.dep.Name {
				t.Errorf("HorizontalPodAutoscaler %s scales nginx: its kept connections would outgrow gofpm's workers", h.Name)
			}
		}
		nReplicas, gReplicas := int(replicas(n.dep)), int(replicas(g.dep))
		kept := nReplicas * atoi(t, nginxDirective(t, n.conf, "worker_processes")) * atoi(t, nginxDirective(t, up[1], "keepalive"))
		workers := gReplicas * g.pool.PMMaxChildren
		if kept >= workers {
			t.Errorf("nginx may keep %d idle connections, gofpm has %d workers in all", kept, workers)
		}
		// Stop budgets.
		if s := sleepSeconds(t, g.preStop); g.grace < s+g.cfg.ProcessControlTimeout.D()+5*time.Second {
			t.Errorf("gofpm: terminationGracePeriodSeconds %s < preStop %s + process_control_timeout %s + 5s", g.grace, s, g.cfg.ProcessControlTimeout.D())
		}
		if s := sleepSeconds(t, n.preStop); n.grace < s+g.pool.RequestTerminateTimeout.D()+5*time.Second {
			t.Errorf("nginx: terminationGracePeriodSeconds %s < preStop %s + request_terminate_timeout %s + 5s", n.grace, s, g.pool.RequestTerminateTimeout.D())
		}
		if len(f.hpas) != 1 || f.hpas[0].Spec.ScaleTargetRef.Name != g.dep.Name {
			t.Errorf("want one HorizontalPodAutoscaler, on Deployment %s", g.dep.Name)
		}
		kubeDocShows(t, fmt.Sprintf("terminationGracePeriodSeconds: %d", int(g.grace.Seconds())),
			fmt.Sprintf("(%d × %d × %d = %d)", nReplicas, atoi(t, nginxDirective(t, n.conf, "worker_processes")), atoi(t, nginxDirective(t, up[1], "keepalive")), kept),
			fmt.Sprintf("(%d × %d = %d)", gReplicas, g.pool.PMMaxChildren, workers))
		// nginx -t, the Service name (resolved at start) pointed at loopback.
		nginxTest(t, strings.ReplaceAll(newPodDirs(t, "/tmp").rewrite(n.conf), "server gofpm:", "server 127.0.0.1:"))
	})
}

// TestKubeStrictDecoding: the decoder the manifest tests use refuses what
// kubectl apply --validate=strict would: a misspelt or wrongly cased field
// (at any depth, named by its path), a key given twice, a value of the
// wrong type, an API version the cluster does not serve for the kind. Each row changes one line of the
// real sidecar manifest, which decodes as it is.
func TestKubeStrictDecoding(t *testing.T) {
	const path = "../../deploy/kubernetes/gofpm-sidecar.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeKube(path, b); err != nil {
		t.Fatalf("the manifest as it is: %v", err)
	}
	for _, tc := range []struct {
		what, old, new, want string
	}{
		{"misspelt container field", "imagePullPolicy: IfNotPresent", "imagePullPolcy: IfNotPresent", `unknown field "spec.template.spec.initContainers[0].imagePullPolcy"`},
		{"misspelt pod field", "automountServiceAccountToken: false", "automountServiceAccountTokens: false", `unknown field "spec.template.spec.automountServiceAccountTokens"`},
		{"field names are case-sensitive", "imagePullPolicy: IfNotPresent", "ImagePullPolicy: IfNotPresent", `unknown field "spec.template.spec.initContainers[0].ImagePullPolicy"`},
		{"field of another type", "      targetPort: http", "      containerPort: http", `unknown field "spec.ports[0].containerPort"`},
		{"misspelt HPA field", "averageUtilization: 70", "averageUtilisation: 70", `unknown field "spec.metrics[0].resource.target.averageUtilisation"`},
		{"duplicate key", "  maxUnavailable: 1\n", "  maxUnavailable: 1\n  maxUnavailable: 2\n", `"maxUnavailable" already set`},
		{"wrong type", "  replicas: 2", "  replicas: two", "cannot unmarshal string into Go struct field"},
		{"bad quantity", "memory: 512Mi", "memory: 512 MB", "quantities must match the regular expression"},
		{"API version not served for the kind", "apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n", `apiVersion "policy/v1beta1" kind "PodDisruptionBudget" is not one this test decodes`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if strings.Count(string(b), tc.old) < 1 {
				t.Fatalf("the manifest has no %q", tc.old)
			}
			_, err := decodeKube(path, []byte(strings.Replace(string(b), tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decoding with %q: %v, want an error with %s", tc.new, err, tc.want)
			}
		})
	}
}

// kubeDocShows fails unless docs/kubernetes.md says each of the numbers
// the manifests have.
func kubeDocShows(t *testing.T, want ...string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), w) {
			t.Errorf("docs/kubernetes.md does not say %q", w)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
