package controller

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/cue/sandbox"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/shard"
	"github.com/ferryhq/ferry/pkg/workflow"
	"github.com/ferryhq/ferry/pkg/workflow/cuestep"
)

// DefaultExecutor is the ServiceAccount ferry-controller names as every ManifestWork's
// executor unless told otherwise: ferry-tenant in the app's namespace on each managed cluster.
const DefaultExecutor = install.DefaultExecutor

// Options configure the Application reconciler.
type Options struct {
	// SystemNamespace holds the definitions every namespace sees ("ferry-system" when empty).
	SystemNamespace string
	// ResyncInterval is how often a settled Application is checked for drift of the objects
	// it owns (5m when zero). Nothing is written when nothing drifted.
	ResyncInterval time.Duration
	// UnhealthyRecheck is how often a settled but unhealthy Application is evaluated again
	// (30s when zero).
	UnhealthyRecheck time.Duration
	// StallTimeout is how long one reconcile may run before the controller reports itself
	// unhealthy and unready (10m when zero): a worker held that long is stuck, and a restart
	// is what frees it.
	StallTimeout time.Duration
	// RevisionHistoryLimit is how many ApplicationRevisions are kept per app (2 when zero); a
	// garbage-collect policy's applicationRevisionLimit wins.
	RevisionHistoryLimit int
	// Concurrency is the number of Applications reconciled at once (4 when zero).
	Concurrency int
	// Workflow tunes step timeouts and backoff.
	Workflow workflow.Options
	// HTTP is the allow-list and timeouts of the request, webhook and notification steps.
	HTTP cuestep.HTTPOptions
	// Mailer sends notification mail; SMTP when nil.
	Mailer cuestep.Mailer
	// Engine renders templates; share one to share its cache. When nil, a new one evaluates
	// in RenderRuntimes evaluator processes within Evaluation (see EvaluateInProcess).
	Engine *cue.Engine
	// AdmissionEngine renders for the admission webhook; when nil, a new one with 2 evaluator
	// processes of its own. It is not the reconciler's, so admission never waits for a
	// reconcile's render.
	AdmissionEngine *cue.Engine
	// RenderRuntimes is how many renders run at the same time (GOMAXPROCS, at most 4, when
	// zero).
	RenderRuntimes int
	// Evaluation bounds each evaluation of what users wrote (templates, parameters, workflow
	// expressions, status policies) when the reconciler makes its engines: past the budget
	// the evaluation fails with a *cue.BudgetError naming what was evaluated.
	Evaluation cue.Budget
	// EvaluateInProcess evaluates in this process instead of evaluator processes
	// (pkg/cue/sandbox). A runaway evaluation is then abandoned rather than ended, and keeps
	// a CPU and its memory until it finishes: for debugging only.
	EvaluateInProcess bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Shard, when set, is the shard this replica holds: it reconciles only while the shard's
	// lease is current (the manager caches only the shard's Applications).
	Shard *shard.Member
	// Impersonate makes everything done for an Application on the hub — reads while rendering
	// (ref-objects) and in steps, applies, deletions, step actions — act as the app's identity
	// (package identity): its writer as admission recorded them, or the ServiceAccount it
	// names. The API server's RBAC then decides what an app may do. Ferry's bookkeeping
	// (revisions, trackers, status, workflow context) stays with the controller's identity. An
	// app without a recorded identity is not delivered. Off, every app acts with the
	// controller's rights: for single-tenant hubs.
	Impersonate bool
	// Executor, when set, names the ServiceAccount that ManifestWorks name as their executor:
	// on each managed cluster the work agent applies an app's objects only as far as that
	// ServiceAccount, in the app's namespace there, may (OCM executor validation). Empty: the
	// agent applies with its own rights.
	Executor string
	// Observe, when set, is told of every reconcile of an Application that exists, when it
	// ended: for tracing, and for tests that check two replicas never overlap.
	Observe func(Observation)
}

// Observation is one reconcile of one Application.
type Observation struct {
	App types.NamespacedName
	// Shard is the app's shard label when the reconcile began.
	Shard      string
	Start, End time.Time
}

func (o Options) withDefaults() Options {
	if o.SystemNamespace == "" {
		o.SystemNamespace = "ferry-system"
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.UnhealthyRecheck == 0 {
		o.UnhealthyRecheck = 30 * time.Second
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = 10 * time.Minute
	}
	if o.RevisionHistoryLimit == 0 {
		o.RevisionHistoryLimit = 2
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.Mailer == nil {
		o.Mailer = cuestep.SMTPMailer{Egress: o.HTTP.Egress()}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// admissionProcesses is how many evaluator processes serve admission: reviews are one app at a
// time and a render takes milliseconds.
const admissionProcesses = 2

// withEngines makes the engines the options do not give, each with its own evaluator
// processes (unless EvaluateInProcess), and returns what closes those processes.
// Unknown parameters are warnings on the server, as kubectl's field validation makes them:
// admission returns them to kubectl, which prints them, and the controller records them in an
// event; an existing KubeVela Application with stale fields still applies.
func (o Options) withEngines() (Options, func()) {
	var pools []*sandbox.Pool
	engine := func(runtimes int, prerender bool) *cue.Engine {
		opts := cue.Options{Runtimes: runtimes, Validation: cue.ValidateWarn, Budget: o.Evaluation, Prerender: prerender}
		if !o.EvaluateInProcess {
			pool := sandbox.New(sandbox.Options{Processes: runtimes, Budget: o.Evaluation})
			pools = append(pools, pool)
			opts.Sandbox = pool
		}
		return cue.NewEngine(opts)
	}
	if o.Engine == nil {
		o.Engine = engine(o.RenderRuntimes, true)
	}
	if o.AdmissionEngine == nil {
		n := admissionProcesses
		if o.RenderRuntimes > 0 {
			n = min(n, o.RenderRuntimes)
		}
		// Admission answers within the webhook's timeout: one budget per evaluation at most.
		o.AdmissionEngine = engine(n, false)
	}
	return o, func() {
		for _, p := range pools {
			p.Close()
		}
	}
}
