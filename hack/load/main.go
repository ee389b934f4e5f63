// Command load measures the hub controller against a real kube-apiserver and etcd (the test
// control plane): it creates N Applications (webservice with a Service and an Ingress, a worker,
// and a ConfigMap: 5 objects each), plays the Deployment controller, and reports how long until
// all are running, the controllers' CPU-seconds (and as a ratio to the API server's and
// etcd's) and peak RSS, API requests per app, and the controllers' CPU while every app is
// running and settled.
//
//	go run ./hack/load --apps 1000
//	go run ./hack/load --apps 10000 --steady 2m --definition-change 10
//	go run ./hack/load --apps 3000 --replicas 3 --kill-one
//
// Each controller runs as its own process (built from ./cmd/ferry-controller) with the shipped
// defaults, in a memory cgroup with the limit of the shipped Deployment (as the kubelet would
// run it; needs root), so that its CPU and memory are its own. Figures go to stdout; nothing
// is asserted: this is a measurement.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

type options struct {
	impersonate   bool
	apps          int
	concurrency   int
	steady        time.Duration
	resync        time.Duration
	timeout       time.Duration
	qps           int
	memLimit      string
	cgroupMemory  string
	clusters      int
	replicas      int
	defChange     int
	killOne       bool
	rolloutGroups int
}

func main() {
	o := options{}
	flag.IntVar(&o.apps, "apps", 1000, "Applications to create")
	flag.IntVar(&o.concurrency, "concurrency", 0, "the controller's --concurrency (its default when 0)")
	flag.DurationVar(&o.steady, "steady", time.Minute, "how long to measure the controller once every app runs")
	flag.DurationVar(&o.resync, "resync", 0, "the controller's --resync-interval (its default when 0)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.IntVar(&o.qps, "qps", 0, "the controller's --kube-api-qps, burst twice that (its default when 0)")
	flag.IntVar(&o.clusters, "clusters", 0, "managed clusters (ManagedClusters without agents) every app is delivered to; 0: the hub only")
	flag.StringVar(&o.memLimit, "controller-gomemlimit", "", "GOMEMLIMIT of the controller processes, e.g. 250MiB (none: the controller sets its own from its cgroup)")
	flag.StringVar(&o.cgroupMemory, "cgroup-memory", "shipped", "memory limit of each controller's cgroup, as a container's: 'shipped' (the limit of the Deployment ferry install applies), a quantity such as 1Gi, or 0 for no cgroup")
	flag.IntVar(&o.replicas, "replicas", 1, "controller replicas; more than one runs them sharded (--shards N --shard-id i)")
	flag.IntVar(&o.defChange, "definition-change", 0, "percent of apps whose worker uses its own copy of the worker definition, which is changed once all run; reports how long until all of them have a new revision")
	flag.BoolVar(&o.killOne, "kill-one", false, "with several replicas: SIGKILL replica 0 once all run and report how long until its apps run on the others")
	flag.IntVar(&o.rolloutGroups, "rollout-groups", 0, "with -clusters: roll every app out group by group (ProgressivePerGroup) over this many groups of clusters, the tool playing the work agents, and report the hub's time per group transition and API requests per cluster")
	flag.BoolVar(&o.impersonate, "impersonate", false, "run the controller with --impersonate, each app recorded as written by the admin (what the admission webhook would record), to measure acting as each app's identity")
	flag.Parse()
	if o.rolloutGroups > 0 && (o.clusters == 0 || o.clusters%o.rolloutGroups != 0) {
		fmt.Fprintln(os.Stderr, "load: -rollout-groups needs -clusters, a multiple of it")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// fleet is the running controllers.
type fleet []*replica

// running sums the apps each live replica reports running.
func (f fleet) running() int {
	total := 0
	for _, r := range f {
		if r.cmd.ProcessState != nil {
			continue
		}
		if n, err := countRunning(r.metrics); err == nil {
			total += n
		}
	}
	return total
}

// stats sums CPU-seconds and peak RSS (KiB) of the live replicas, and returns the largest RSS.
func (f fleet) stats() (cpu float64, rss, maxRSS int) {
	for _, r := range f {
		if r.cmd.ProcessState != nil {
			continue
		}
		c, m, err := procStats(r.pid)
		if err != nil {
			continue
		}
		cpu += c
		rss += m
		maxRSS = max(maxRSS, m)
	}
	return cpu, rss, maxRSS
}

func (f fleet) scrape(name string) float64 {
	total := 0.0
	for _, r := range f {
		if r.cmd.ProcessState == nil {
			v, _ := scrape(r.metrics, name)
			total += v
		}
	}
	return total
}

func run(o options) error {
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, o.timeout)
	defer cancel()
	root, err := testenv.FindRepoRoot()
	if err != nil {
		return err
	}
	bins, err := testenv.EnsureBinaries(ctx, testenv.BuildOptions{Log: os.Stderr})
	if err != nil {
		return err
	}
	work := filepath.Join(root, ".cache", "load")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	ctlBin := filepath.Join(work, "ferry-controller")
	build := exec.CommandContext(ctx, "go", "build", "-o", ctlBin, "./cmd/ferry-controller")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the controller: %w", err)
	}
	var memLimit int64
	switch o.cgroupMemory {
	case "shipped":
		if memLimit, err = shippedMemoryLimit(); err != nil {
			return err
		}
	case "0", "":
	default:
		q, err := resource.ParseQuantity(o.cgroupMemory)
		if err != nil {
			return fmt.Errorf("--cgroup-memory: %w", err)
		}
		memLimit = q.Value()
	}

	env := &envtest.Environment{BinaryAssetsDirectory: bins.Dir, CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd")}}
	env.ControlPlane.GetAPIServer().Configure().Set("max-requests-inflight", "1000").Set("max-mutating-requests-inflight", "500").
		Set("service-cluster-ip-range", "10.0.0.0/16")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start the API server: %w", err)
	}
	defer func() { _ = env.Stop() }()
	apiserver, etcd := childPID("kube-apiserver"), childPID("etcd")
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := ferryscheme.NewClient(cfg)
	if err != nil {
		return err
	}
	objs, err := install.Objects(install.Options{})
	if err != nil {
		return err
	}
	if err := install.Apply(ctx, c, objs); err != nil {
		return err
	}
	if o.defChange > 0 {
		if err := copyDefinition(ctx, c, "worker", changedWorker); err != nil {
			return err
		}
	}
	if o.clusters > 0 {
		if err := makeClusters(ctx, cfg, c, bins, o.clusters, o.rolloutGroups); err != nil {
			return err
		}
	}
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := testenv.WriteKubeconfig(kubeconfig, cfg); err != nil {
		return err
	}
	var ctls fleet
	defer func() {
		for _, r := range ctls {
			r.stop()
		}
	}()
	for i := range max(o.replicas, 1) {
		r, err := startReplica(o, i, ctlBin, kubeconfig, work, memLimit)
		if err != nil {
			return err
		}
		ctls = append(ctls, r)
	}

	if err := playKubelets(ctx, cfg); err != nil {
		return err
	}
	fmt.Printf("apps: %d (5 objects each), %d controller replica(s) with the shipped defaults", o.apps, len(ctls))
	if memLimit > 0 {
		fmt.Printf(", each in a cgroup of %d MiB", memLimit>>20)
	}
	if o.concurrency > 0 || o.qps > 0 || o.resync > 0 || o.memLimit != "" {
		fmt.Printf(" except concurrency %d, QPS %d, resync %s, GOMEMLIMIT %q (0: default)", o.concurrency, o.qps, o.resync, o.memLimit)
	}
	fmt.Println()
	start := time.Now()
	apiCPU0 := cpuOf(apiserver) + cpuOf(etcd)
	if err := createApps(ctx, c, o); err != nil {
		return err
	}
	if o.rolloutGroups > 0 {
		return measureRollout(ctx, cfg, c, o, start, ctls[0].metrics)
	}
	if o.clusters > 0 {
		return measureDispatch(ctx, c, o, start, ctls[0].metrics, ctls[0].pid)
	}
	created := time.Since(start)
	fmt.Printf("created %d apps in %s\n", o.apps, created.Round(time.Millisecond))
	for _, r := range ctls {
		if line := r.memoryLine(); line != "" {
			fmt.Printf("%s: %s\n", r.name, line)
		}
	}
	if err := waitRunning(ctx, ctls, o.apps, start); err != nil {
		return err
	}
	converged := time.Since(start)
	cpu, rss, maxRSS := ctls.stats()
	apiCPU := cpuOf(apiserver) + cpuOf(etcd) - apiCPU0
	requests := ctls.scrape("rest_client_requests_total")
	reconciles := ctls.scrape("ferry_application_reconcile_total")
	fmt.Printf("all running after %s (%.1f apps/s)\n", converged.Round(time.Millisecond), float64(o.apps)/converged.Seconds())
	fmt.Printf("controllers until then: %.1f CPU-seconds (%.2f of the API server's and etcd's %.1f), peak RSS %d MiB (largest replica %d MiB), %.1f API requests per app, %.1f reconciles per app\n",
		cpu, cpu/apiCPU, apiCPU, rss/1024, maxRSS/1024, requests/float64(o.apps), reconciles/float64(o.apps))
	for _, r := range ctls {
		if peak := cgroupPeak(r.cgroup); peak > 0 {
			fmt.Printf("  %s: its cgroup's peak memory use %d MiB (RSS and page cache of the controller and its evaluator processes)\n", r.name, peak>>20)
		}
	}
	if len(ctls) > 1 {
		for _, r := range ctls {
			n, _ := countRunning(r.metrics)
			_, m, _ := procStats(r.pid)
			fmt.Printf("  %s (%s): %d apps running, peak RSS %d MiB\n", r.name, r.shard, n, m/1024)
		}
	}
	if err := savePprof(ctls[0].metrics, "heap", filepath.Join(work, "heap.pprof")); err != nil {
		return err
	}
	time.Sleep(5 * time.Second) // the last status writes settle
	cpu0, _, _ := ctls.stats()
	req0, rec0 := ctls.scrape("rest_client_requests_total"), ctls.scrape("ferry_application_reconcile_total")
	set0, gc0 := ctls.scrape("ferry_application_settled_checks_total"), ctls.scrape("go_gc_duration_seconds_count")
	// A CPU profile of the first replica over the steady window: what a settled fleet costs.
	profiled := make(chan error, 1)
	go func() {
		profiled <- savePprof(ctls[0].metrics, fmt.Sprintf("profile?seconds=%d", max(1, int((o.steady-5*time.Second).Seconds()))), filepath.Join(work, "steady-cpu.pprof"))
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.steady):
	}
	cpu1, rss1, _ := ctls.stats()
	req1, rec1 := ctls.scrape("rest_client_requests_total"), ctls.scrape("ferry_application_reconcile_total")
	set1, gc1 := ctls.scrape("ferry_application_settled_checks_total"), ctls.scrape("go_gc_duration_seconds_count")
	fmt.Printf("steady state over %s: %.2f%% of a core, %.1f API requests/s, %.1f reconciles/s, %.1f settled checks/s, %.1f GC cycles/min, RSS peak %d MiB\n",
		o.steady, 100*(cpu1-cpu0)/o.steady.Seconds(), (req1-req0)/o.steady.Seconds(), (rec1-rec0)/o.steady.Seconds(),
		(set1-set0)/o.steady.Seconds(), 60*(gc1-gc0)/o.steady.Seconds(), rss1/1024)
	if err := <-profiled; err != nil {
		fmt.Printf("steady-state CPU profile: %v\n", err)
	}

	if o.defChange > 0 {
		if err := measureDefinitionChange(ctx, c, ctls); err != nil {
			return err
		}
	}
	if o.killOne && len(ctls) > 1 {
		if err := measureKill(ctx, c, ctls, o.apps); err != nil {
			return err
		}
	}
	return nil
}

func waitRunning(ctx context.Context, ctls fleet, apps int, start time.Time) error {
	for {
		if ctls.running() == apps {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d apps running after %s", ctls.running(), apps, time.Since(start))
		case <-time.After(2 * time.Second):
		}
	}
}

// cpuOf returns a process's CPU-seconds; 0 when it cannot be read.
func cpuOf(pid int) float64 {
	if pid == 0 {
		return 0
	}
	cpu, _, _ := procStats(pid)
	return cpu
}

func appFor(i int, o options) *v1beta1.Application {
	fanOut := o.clusters > 0
	workerType := "worker"
	if o.defChange > 0 && i%(100/o.defChange) == 0 {
		workerType = changedWorker
	}
	raw := func(s string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(s)} }
	name := fmt.Sprintf("load-%05d", i)
	app := &v1beta1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{
			{Name: name + "-web", Type: "webservice", Properties: raw(`{"image":"nginx:1.27","ports":[{"port":80}]}`),
				Traits: []v1beta1.ApplicationTrait{{Type: "gateway", Properties: raw(`{"domain":"` + name + `.example.com","http":{"/":80}}`)}}},
			{Name: name + "-worker", Type: workerType, Properties: raw(`{"image":"busybox:1.36","cmd":["sleep","1d"]}`)},
			{Name: name + "-config", Type: "k8s-objects", Properties: raw(`{"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `-config"},"data":{"mode":"load"}}]}`)},
		}},
	}
	if workerType == changedWorker {
		app.Labels = map[string]string{changedLabel: "yes"}
	}
	if o.impersonate {
		app.Annotations = map[string]string{v1beta1.AnnotationUsername: "admin", v1beta1.AnnotationGroup: "system:masters,system:authenticated"}
	}
	if fanOut {
		app.Spec.Policies = []v1beta1.AppPolicy{{Name: "fleet", Type: "topology", Properties: raw(`{"clusterLabelSelector":{"load":"yes"}}`)}}
	}
	if o.rolloutGroups > 0 {
		rolloutPolicies(app, o.rolloutGroups)
	}
	return app
}

// makeClusters creates ManagedClusters labelled load=yes (and, with groups, load-group=gNN in
// groups of n/groups) and their namespaces; no agent runs, so this measures the hub side only.
func makeClusters(ctx context.Context, cfg *rest.Config, c client.Client, bins *testenv.Binaries, n, groups int) error {
	crds, err := testenv.NewClient(cfg)
	if err != nil {
		return err
	}
	if err := testenv.InstallOCMHubCRDs(ctx, crds, bins); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("cluster-%03d", i)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
		labels := map[string]string{"load": "yes"}
		if groups > 0 {
			labels[groupOf] = fmt.Sprintf("g%02d", i/(n/groups))
		}
		mc := &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: clusterv1.ManagedClusterSpec{HubAcceptsClient: true}}
		if err := c.Create(ctx, mc); err != nil {
			return err
		}
	}
	return nil
}

// measureDispatch waits until every app has its ManifestWork on every cluster, then measures
// reconciles that find nothing to change (the deploy steps keep waiting: no agent reports
// health).
func measureDispatch(ctx context.Context, c client.Client, o options, start time.Time, metricsAddr string, pid int) error {
	want := o.apps * o.clusters
	for {
		var works metav1.PartialObjectMetadataList
		works.SetGroupVersionKind(schema.GroupVersionKind{Group: workv1.GroupName, Version: "v1", Kind: "ManifestWorkList"})
		if err := c.List(ctx, &works); err != nil {
			return err
		}
		if len(works.Items) >= want {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d ManifestWorks after %s", len(works.Items), want, time.Since(start))
		case <-time.After(2 * time.Second):
		}
	}
	written := time.Since(start)
	cpu, rss, err := procStats(pid)
	if err != nil {
		return err
	}
	fmt.Printf("all %d ManifestWorks (%d apps x %d clusters) written after %s\n", want, o.apps, o.clusters, written.Round(time.Millisecond))
	fmt.Printf("controller until then: %.1f CPU-seconds, peak RSS %d MiB\n", cpu, rss/1024)
	sum0, _ := scrape(metricsAddr, "ferry_application_reconcile_duration_seconds_sum")
	n0, _ := scrape(metricsAddr, "ferry_application_reconcile_duration_seconds_count")
	req0, _ := scrape(metricsAddr, "rest_client_requests_total")
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.steady):
	}
	sum1, _ := scrape(metricsAddr, "ferry_application_reconcile_duration_seconds_sum")
	n1, _ := scrape(metricsAddr, "ferry_application_reconcile_duration_seconds_count")
	req1, _ := scrape(metricsAddr, "rest_client_requests_total")
	if n1 > n0 {
		fmt.Printf("then over %s: %.0f reconciles that changed nothing, %.2f ms each, %.2f API requests each\n",
			o.steady, n1-n0, 1000*(sum1-sum0)/(n1-n0), (req1-req0)/(n1-n0))
	}
	return nil
}

func createApps(ctx context.Context, c client.Client, o options) error {
	n := o.apps
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := c.Create(ctx, appFor(i, o)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			return err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// countRunning reads how many apps run from the controller's metrics (its cache): listing
// thousands of Applications every few seconds would load the API server more than the
// controller does.
func countRunning(metricsAddr string) (int, error) {
	n, err := scrapeLabel(metricsAddr, "ferry_applications", `phase="running"`)
	return int(n), err
}

// playKubelets reports every Deployment ready and gives every Ingress an address, as kubelets
// and an ingress controller would. It watches rather than lists, so it costs the API server
// little with thousands of objects.
func playKubelets(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	work := make(chan func(), 10000)
	_, err = factory.Apps().V1().Deployments().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { readyDeployment(ctx, cs, obj, work) },
		UpdateFunc: func(_, obj any) { readyDeployment(ctx, cs, obj, work) },
	})
	if err != nil {
		return err
	}
	_, err = factory.Networking().V1().Ingresses().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { addressIngress(ctx, cs, obj, work) },
		UpdateFunc: func(_, obj any) { addressIngress(ctx, cs, obj, work) },
	})
	if err != nil {
		return err
	}
	for i := 0; i < 8; i++ {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case f := <-work:
					f()
				}
			}
		}()
	}
	factory.Start(ctx.Done())
	return nil
}

func readyDeployment(ctx context.Context, cs kubernetes.Interface, obj any, work chan<- func()) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok || d.Status.ObservedGeneration == d.Generation {
		return
	}
	d = d.DeepCopy()
	work <- func() {
		r := int32(1)
		if d.Spec.Replicas != nil {
			r = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: r, ReadyReplicas: r, UpdatedReplicas: r, AvailableReplicas: r}
		_, _ = cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	}
}

func addressIngress(ctx context.Context, cs kubernetes.Interface, obj any, work chan<- func()) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok || len(ing.Status.LoadBalancer.Ingress) > 0 {
		return
	}
	ing = ing.DeepCopy()
	work <- func() {
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.10"}}
		_, _ = cs.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{})
	}
}

// procStats returns the CPU-seconds (user+system) and peak RSS in KiB of a controller with its
// evaluator processes: its own, its reaped children's CPU, and each live child's CPU and peak
// RSS (the peaks are summed, an upper bound of the tree's peak).
func procStats(pid int) (float64, int, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, 0, err
	}
	cpu := 0.0
	for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
		v, _ := strconv.ParseFloat(fields[i], 64)
		cpu += v / 100
	}
	rss := peakRSS(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		f, err := statFields(child)
		if err != nil || f[1] != strconv.Itoa(pid) {
			continue
		}
		for _, i := range []int{11, 12} {
			v, _ := strconv.ParseFloat(f[i], 64)
			cpu += v / 100
		}
		rss += peakRSS(child)
	}
	return cpu, rss, nil
}

// cgroupPeak is the peak memory use of a cgroup the load made (0 when unknown).
func cgroupPeak(dir string) int64 {
	if dir == "" {
		return 0
	}
	for _, file := range []string{"memory.max_usage_in_bytes", "memory.peak"} { // v1, v2
		if data, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
			n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			return n
		}
	}
	return 0
}

// statFields are the fields of /proc/PID/stat after the command name: state is [0], ppid [1].
func statFields(pid int) ([]string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:])), nil
}

// peakRSS is a process's VmHWM in KiB.
func peakRSS(pid int) int {
	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			hwm, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return hwm
		}
	}
	return 0
}

// scrape sums a counter over its labels from the controller's metrics endpoint.
func scrape(addr, name string) (float64, error) {
	return scrapeLabel(addr, name, "")
}

// scrapeLabel sums the series of a metric whose labels contain label.
func scrapeLabel(addr, name, label string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum, sc.Err()
}

// savePprof writes one of the controller's pprof endpoints, e.g. "heap" or
// "profile?seconds=30", to a file (go tool pprof it).
func savePprof(addr, endpoint, file string) error {
	resp, err := http.Get("http://" + addr + "/debug/pprof/" + endpoint)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
