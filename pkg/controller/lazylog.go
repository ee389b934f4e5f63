package controller

import (
	"slices"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// reconcileLogger builds each reconcile's logger as controller-runtime's default does (the
// controller, the Application as a reference, its namespace and name), but lazily: the values
// are handed to the real logger only when something is logged. Building a zap logger with
// values encodes them at once, and a settled check, which logs nothing, was spending a tenth of
// its CPU on the two loggers every reconcile gets (this one and the reconcile ID's).
func reconcileLogger(base logr.Logger) func(*reconcile.Request) logr.Logger {
	base = base.WithValues("controller", "application", "controllerGroup", "core.oam.dev", "controllerKind", "Application")
	return func(req *reconcile.Request) logr.Logger {
		l := base.WithSink(&lazySink{base: base.GetSink()})
		if req != nil {
			l = l.WithValues("Application", klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "name", req.Name)
		}
		return l
	}
}

// lazySink keeps names and values until a message is logged.
type lazySink struct {
	base   logr.LogSink
	values []any
	names  []string
	depth  int
}

var (
	_ logr.LogSink          = (*lazySink)(nil)
	_ logr.CallDepthLogSink = (*lazySink)(nil)
)

// Init does nothing: the base sink was initialised when its logger was made (initialising it
// again would change it for everyone who shares it).
func (s *lazySink) Init(logr.RuntimeInfo) {}

func (s *lazySink) Enabled(level int) bool { return s.base.Enabled(level) }

func (s *lazySink) Info(level int, msg string, keysAndValues ...any) {
	s.sink().Info(level, msg, keysAndValues...)
}

func (s *lazySink) Error(err error, msg string, keysAndValues ...any) {
	s.sink().Error(err, msg, keysAndValues...)
}

func (s *lazySink) WithValues(keysAndValues ...any) logr.LogSink {
	out := *s
	out.values = append(slices.Clip(s.values), keysAndValues...)
	return &out
}

func (s *lazySink) WithName(name string) logr.LogSink {
	out := *s
	out.names = append(slices.Clip(s.names), name)
	return &out
}

func (s *lazySink) WithCallDepth(depth int) logr.LogSink {
	out := *s
	out.depth += depth
	return &out
}

// sink is the real sink with everything kept so far; its caller is the one who logged, one
// frame above this wrapper's Info or Error.
func (s *lazySink) sink() logr.LogSink {
	sink := s.base
	for _, n := range s.names {
		sink = sink.WithName(n)
	}
	if len(s.values) > 0 {
		sink = sink.WithValues(s.values...)
	}
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(s.depth + 1)
	}
	return sink
}
