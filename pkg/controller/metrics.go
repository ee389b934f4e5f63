package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// metrics are the controller's Prometheus metrics, served on the manager's metrics endpoint.
type metrics struct {
	reader    client.Reader
	reconcile *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	stepEnds  *prometheus.CounterVec
	applied   *prometheus.CounterVec
	settled   prometheus.Counter
	paused    prometheus.Counter
	apps      *prometheus.Desc
}

func newMetrics(reader client.Reader) *metrics {
	return &metrics{
		reader: reader,
		reconcile: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_application_reconcile_total",
			Help: "Application reconciles by the phase the app ended in and result (ok, error)."}, []string{"phase", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ferry_application_reconcile_duration_seconds",
			Help: "Duration of Application reconciles by the phase the app ended in.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"phase"}),
		stepEnds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_workflow_step_total",
			Help: "Workflow steps that reached a final phase, by step type and phase."}, []string{"type", "phase"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_objects_applied_total",
			Help: "Objects written to the hub, by result (created, updated)."}, []string{"result"}),
		settled: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_application_settled_checks_total",
			Help: "Reconciles that found a settled app unchanged (its objects, definitions and spec) and did nothing."}),
		paused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_application_paused_checks_total",
			Help: "Reconciles that found an app paused (annotation controller.core.oam.dev/pause: \"true\") and left it alone."}),
		apps: prometheus.NewDesc("ferry_applications", "Applications by phase.", []string{"phase"}, nil),
	}
}

// register adds the metrics to controller-runtime's registry. A second reconciler in one
// process (tests, two replicas in one binary) counts into the collectors the first registered,
// so its counts are served too; the apps-by-phase gauge is served by the first.
func (m *metrics) register() error {
	reuse := func(c prometheus.Collector) (prometheus.Collector, error) {
		err := ctrlmetrics.Registry.Register(c)
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			return already.ExistingCollector, nil
		}
		return c, err
	}
	cv := func(v **prometheus.CounterVec) error {
		c, err := reuse(*v)
		if err == nil {
			*v = c.(*prometheus.CounterVec)
		}
		return err
	}
	duration, err := reuse(m.duration)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	m.duration = duration.(*prometheus.HistogramVec)
	for _, counter := range []*prometheus.Counter{&m.settled, &m.paused} {
		c, err := reuse(*counter)
		if err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
		*counter = c.(prometheus.Counter)
	}
	if err := errors.Join(cv(&m.reconcile), cv(&m.stepEnds), cv(&m.applied)); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	if _, err := reuse(m); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	return nil
}

func (m *metrics) observe(phase v1beta1.ApplicationPhase, start, end time.Time, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reconcile.WithLabelValues(string(phase), result).Inc()
	m.duration.WithLabelValues(string(phase)).Observe(end.Sub(start).Seconds())
}

// steps counts steps that finished between two states.
func (m *metrics) steps(before, after []workflow.StepState) {
	was := map[string]workflow.StepPhase{}
	var index func([]workflow.StepState)
	index = func(steps []workflow.StepState) {
		for _, s := range steps {
			was[s.Name] = s.Phase
			index(s.SubSteps)
		}
	}
	index(before)
	var count func([]workflow.StepState)
	count = func(steps []workflow.StepState) {
		for _, s := range steps {
			final := s.Phase == workflow.StepSucceeded || s.Phase == workflow.StepFailed || s.Phase == workflow.StepSkipped || s.Phase == workflow.StepStopped
			if final && was[s.Name] != s.Phase {
				m.stepEnds.WithLabelValues(s.Type, string(s.Phase)).Inc()
			}
			count(s.SubSteps)
		}
	}
	count(after)
}

// Describe implements prometheus.Collector for the apps-by-phase gauge.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.apps }

// Collect counts Applications by phase from the cache at scrape time.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	var list v1beta1.ApplicationList
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.reader.List(ctx, &list); err != nil {
		return
	}
	byPhase := map[v1beta1.ApplicationPhase]int{}
	for _, a := range list.Items {
		byPhase[a.Status.Phase]++
	}
	for phase, n := range byPhase {
		ch <- prometheus.MustNewConstMetric(m.apps, prometheus.GaugeValue, float64(n), string(phase))
	}
}
