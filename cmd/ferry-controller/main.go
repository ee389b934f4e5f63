// Command ferry-controller is Ferry's hub controller: it delivers Applications.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	// Trusted roots for HTTPS (notifications, webhooks) in an image without a CA bundle: used
	// only when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/cue/sandbox"
	"github.com/ferryhq/ferry/pkg/egress"
	"github.com/ferryhq/ferry/pkg/memlimit"
	"github.com/ferryhq/ferry/pkg/shard"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// An evaluator process the controller started runs this program too: it serves and exits.
	sandbox.ServeIfWorker()
	var (
		o          controller.ManagerOptions
		kubeconfig string
		kubeCtx    string
		hosts      string
		networks   string
		memFrac    float64
		evalMemory string
	)
	fs := flag.NewFlagSet("ferry-controller", flag.ExitOnError)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config or $KUBECONFIG when empty")
	fs.StringVar(&kubeCtx, "context", "", "kubeconfig context to use")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 turns it off)")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 turns them off)")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader so only one replica reconciles")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election lease (the pod's when empty)")
	var qps float64
	fs.Float64Var(&qps, "kube-api-qps", 100, "client requests per second to the API server")
	fs.IntVar(&o.Burst, "kube-api-burst", 200, "client request burst")
	fs.DurationVar(&o.APITimeout, "kube-api-timeout", controller.DefaultAPITimeout, "how long a request to the API server other than a watch may take before it fails (and the reconcile is retried); 0 or less: no bound")
	fs.IntVar(&o.Reconciler.Concurrency, "concurrency", 4, "Applications reconciled at once")
	fs.DurationVar(&o.Reconciler.ResyncInterval, "resync-interval", 5*time.Minute, "how often settled Applications are checked for drift")
	fs.IntVar(&o.Reconciler.RevisionHistoryLimit, "revision-history-limit", 2, "ApplicationRevisions kept per Application")
	fs.StringVar(&o.Reconciler.SystemNamespace, "system-namespace", "ferry-system", "namespace of the definitions every namespace sees")
	fs.StringVar(&hosts, "http-allowed-hosts", "", "comma-separated hosts (or *.suffix, or *) workflow steps may send HTTP requests and mail to; a namespace's "+egress.ConfigMapName+" ConfigMap (key hosts) narrows it for its Applications")
	fs.StringVar(&networks, "egress-allowed-networks", "", "comma-separated loopback, link-local, private or shared networks (CIDRs) workflow steps may reach; any other such address is refused after name resolution, whatever the host")
	fs.BoolVar(&o.Reconciler.Impersonate, "impersonate", true, "act on the hub as each Application's writer (recorded at admission in app.oam.dev/username and app.oam.dev/group) or the ServiceAccount it names (app.oam.dev/service-account-name), so RBAC decides what an app may do; false: every app acts with the controller's rights (single-tenant hubs)")
	fs.StringVar(&o.Reconciler.Executor, "executor-service-account", controller.DefaultExecutor, "ServiceAccount every ManifestWork names as its executor, in the app's namespace on the managed cluster: the work agent applies an app's objects only as far as it may there (empty: with the agent's own rights)")
	fs.DurationVar(&o.Reconciler.Workflow.DefaultTimeout, "default-step-timeout", 30*time.Minute, "timeout of workflow steps that set none")
	fs.DurationVar(&o.Reconciler.StallTimeout, "stall-timeout", 10*time.Minute, "a reconcile running longer makes /healthz and /readyz fail: the worker is stuck")
	fs.IntVar(&o.Webhook.Port, "webhook-port", 0, "port of the validating admission webhook (0 turns it off)")
	fs.StringVar(&o.Webhook.Host, "webhook-host", "", "address the webhook binds to and its certificate is valid for: the host of ferry install --webhook-url, for a controller outside the cluster (all addresses when empty)")
	fs.StringVar(&o.Webhook.CertDir, "webhook-cert-dir", "", "directory for the webhook's serving certificate (a temporary one when empty); the certificate itself is kept in the Secret "+controller.WebhookCertSecretName)
	fs.IntVar(&o.UI.Port, "ui-port", 0, "port of the web console (0 turns it off); each request acts with the user's own bearer token (Authorization header from an authenticating proxy, or signed in with a token), so the user's RBAC decides")
	fs.StringVar(&o.UI.Host, "ui-host", "", "address the web console binds to (all addresses when empty)")
	fs.BoolVar(&o.Pprof, "enable-pprof", false, "serve /debug/pprof/ on the metrics address")
	fs.IntVar(&o.Shards, "shards", 0, "split Applications among this many replicas by the "+shard.Label+" label (0: no sharding); each replica holds one shard's lease")
	fs.IntVar(&o.ShardID, "shard-id", -1, "the shard this replica holds, below --shards (the first free one when negative)")
	fs.Float64Var(&memFrac, "memory-limit-fraction", memlimit.DefaultFraction, "Go memory limit as a fraction of the container's (cgroup's) memory limit; GOMEMLIMIT, when set, wins")
	fs.IntVar(&o.Reconciler.RenderRuntimes, "render-runtimes", 0, "evaluator processes rendering at the same time (GOMAXPROCS, at most 4, when 0); each holds its own compiled templates")
	fs.DurationVar(&o.Reconciler.Evaluation.Timeout, "evaluation-timeout", cue.DefaultTimeout, "time budget of each evaluation of what users wrote (a template's render, a workflow expression, a status policy); past it the evaluator process is killed and the app, component or step reports the budget")
	fs.StringVar(&evalMemory, "evaluation-memory", resource.NewQuantity(sandbox.DefaultMemory, resource.BinarySI).String(), "memory budget of each evaluator process; past it the process ends and the evaluation reports the budget")
	fs.BoolVar(&o.Reconciler.EvaluateInProcess, "evaluate-in-process", false, "evaluate in the controller's own process instead of evaluator processes: a runaway evaluation then keeps a CPU and its memory until it ends (debugging only)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(os.Args[1:])
	q, err := resource.ParseQuantity(evalMemory)
	if err != nil || q.Value() <= 0 {
		fmt.Fprintf(os.Stderr, "ferry-controller: --evaluation-memory %q: want a size such as 256Mi\n", evalMemory)
		os.Exit(2)
	}
	o.Reconciler.Evaluation.Memory = q.Value()
	if o.APITimeout <= 0 {
		o.APITimeout = -1 // no bound, as the flag's help says
	}
	o.Webhook.ManageCert = true
	o.QPS = float32(qps)
	o.Reconciler.HTTP.AllowedHosts = egress.ParseHosts(hosts)
	if o.Reconciler.HTTP.AllowedNetworks, err = egress.ParseNetworks(networks); err != nil {
		fmt.Fprintf(os.Stderr, "ferry-controller: --egress-allowed-networks: %v\n", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	if res, err := memlimit.Set(memlimit.Options{Fraction: memFrac}); err != nil {
		log.Error(err, "could not read the cgroup's memory limit; running without a Go memory limit")
	} else {
		log.Info(res.String())
	}
	log.Info("ferry-controller", "version", version, "impersonate", o.Reconciler.Impersonate, "executorServiceAccount", o.Reconciler.Executor)
	if err := run(kubeconfig, kubeCtx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-controller:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, kubeCtx string, o controller.ManagerOptions) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeCtx}).ClientConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	return controller.Run(ctrl.SetupSignalHandler(), cfg, o)
}
