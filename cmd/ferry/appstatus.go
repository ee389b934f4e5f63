package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// progressLines describes where an Application is: its workflow steps and component health.
func progressLines(app *v1beta1.Application) []string {
	var lines []string
	if c := meta.FindStatusCondition(app.Status.Conditions, v1beta1.ConditionRendered); c != nil && c.Status == "False" {
		lines = append(lines, "render failed: "+c.Message)
	}
	if ws := app.Status.Workflow; ws != nil {
		for _, s := range ws.Steps {
			lines = append(lines, stepLine("step", s.StepStatus))
			lines = append(lines, rolloutLines("  ", s.StepStatus)...)
			for _, sub := range s.SubStepsStatus {
				lines = append(lines, stepLine("  step", sub))
				lines = append(lines, rolloutLines("    ", sub)...)
			}
		}
	}
	for _, s := range app.Status.Services {
		health := "healthy"
		if !s.Healthy {
			health = "not healthy"
		}
		line := fmt.Sprintf("component %s on %s/%s: %s", s.Name, s.Cluster, s.Namespace, health)
		if s.Message != "" {
			line += " (" + s.Message + ")"
		}
		lines = append(lines, line)
	}
	return lines
}

func stepLine(prefix string, s v1beta1.StepStatus) string {
	line := fmt.Sprintf("%s %s (%s): %s", prefix, s.Name, s.Type, orNone(s.Phase, "pending"))
	if s.Message != "" {
		line += ": " + s.Message
	}
	if s.ResumedBy != "" && s.ResumedTime != nil {
		line += fmt.Sprintf(" [approved by %s at %s]", s.ResumedBy, s.ResumedTime.UTC().Format(time.RFC3339))
	}
	return line
}

// rolloutLines show what a step keeps between checks: where each cluster of a progressive deploy
// step is (phase, decision group, when it changed, the revision it ran before, what it waits
// for), and a metric check's last reading.
func rolloutLines(indent string, s v1beta1.StepStatus) []string {
	if s.Progress == nil {
		return nil
	}
	var lines []string
	for _, c := range s.Progress.Rollout {
		line := fmt.Sprintf("%scluster %s: %s", indent, c.Cluster, c.Phase)
		var facts []string
		if c.Group != "" {
			facts = append(facts, "group "+c.Group)
		}
		if c.Started != nil {
			facts = append(facts, "changed "+c.Started.UTC().Format(time.RFC3339))
		}
		if c.From != "" {
			facts = append(facts, "from "+c.From)
		}
		if len(facts) > 0 {
			line += " (" + strings.Join(facts, ", ") + ")"
		}
		if c.Message != "" {
			line += ": " + c.Message
		}
		lines = append(lines, line)
	}
	if s.Progress.RolledBack != "" {
		lines = append(lines, indent+s.Progress.RolledBack)
	}
	if m := s.Progress.Metric; m != nil {
		held := "holds"
		if !m.Met {
			held = "does not hold"
		}
		line := fmt.Sprintf("%smetric %s = %s: %s %s", indent, m.Query, m.Value, m.Condition, held)
		if m.Since != nil {
			line += " since " + m.Since.UTC().Format(time.RFC3339)
		}
		lines = append(lines, line)
	}
	return lines
}

func orNone(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// settled reports whether an Application reached an end `ferry up --wait` stops at, and the
// error when that end is a failure.
func settled(app *v1beta1.Application) (bool, error) {
	if app.Status.ObservedGeneration < app.Generation {
		return false, nil
	}
	if c := meta.FindStatusCondition(app.Status.Conditions, v1beta1.ConditionRendered); c != nil && c.Status == "False" && c.ObservedGeneration >= app.Generation {
		return true, errors.New(c.Message)
	}
	ws := app.Status.Workflow
	if ws == nil || app.Status.LatestRevision == nil || ws.AppRevision != app.Status.LatestRevision.Name {
		return false, nil
	}
	switch app.Status.Phase {
	case v1beta1.ApplicationRunning, v1beta1.ApplicationWorkflowSuspending:
		return true, nil
	case v1beta1.ApplicationWorkflowFailed, v1beta1.ApplicationWorkflowTerminated:
		var failed []string
		for _, s := range ws.Steps {
			if s.Phase == "failed" {
				failed = append(failed, fmt.Sprintf("step %s: %s", s.Name, s.Message))
			}
		}
		return true, fmt.Errorf("the workflow %s: %s", strings.TrimPrefix(string(app.Status.Phase), "workflow"), strings.Join(failed, "; "))
	}
	return false, nil
}
