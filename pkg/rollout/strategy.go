package rollout

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	clusterv1alpha1 "open-cluster-management.io/api/cluster/v1alpha1"
)

// Type is OCM's rollout type.
type Type = clusterv1alpha1.RolloutType

// The rollout types, with OCM's names.
const (
	All                 = clusterv1alpha1.All
	Progressive         = clusterv1alpha1.Progressive
	ProgressivePerGroup = clusterv1alpha1.ProgressivePerGroup
)

// DefaultProgressDeadline bounds a changed cluster's wait for health when the strategy sets no
// progressDeadline. OCM waits without end then; Ferry bounds every wait (a step never hangs
// silently), and `progressDeadline: None` still asks for OCM's behaviour.
const DefaultProgressDeadline = 30 * time.Minute

// Strategy is a parsed rolloutStrategy: OCM's RolloutStrategy with its durations read.
type Strategy struct {
	Type Type
	// MaxConcurrency is how many clusters change at once (Progressive); zero is no limit.
	MaxConcurrency intstr.IntOrString
	// MinSuccessTime is how long a changed cluster must stay healthy before it counts as
	// succeeded and the rollout moves on.
	MinSuccessTime time.Duration
	// ProgressDeadline is how long a changed cluster may take to succeed before it counts as
	// failed: DefaultProgressDeadline when not given; zero ("None") waits without end.
	ProgressDeadline time.Duration
	// MaxFailures is how many failed clusters (a number, or a percentage of the clusters for
	// Progressive and of the group for ProgressivePerGroup) the rollout tolerates.
	MaxFailures intstr.IntOrString
	// Mandatory are the decision groups that change first, all at once, tolerating no failure.
	Mandatory []clusterv1alpha1.MandatoryDecisionGroup
}

// Parse reads a deploy step's rolloutStrategy property: OCM's RolloutStrategy shape, e.g.
// {type: Progressive, progressive: {maxConcurrency: 1, minSuccessTime: 8s, progressDeadline: 3m,
// maxFailures: 0}}. Errors name the field. A missing type is All.
func Parse(raw any) (Strategy, error) {
	data, err := json.Marshal(raw)
	if err != nil {
		return Strategy{}, fmt.Errorf("rolloutStrategy: %w", err)
	}
	var rs clusterv1alpha1.RolloutStrategy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return Strategy{}, fmt.Errorf("rolloutStrategy: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	s := Strategy{Type: rs.Type}
	var cfg clusterv1alpha1.RolloutConfig
	field := ""
	switch rs.Type {
	case "", All:
		s.Type = All
		if rs.All != nil {
			cfg, field = rs.All.RolloutConfig, "all"
		}
	case Progressive:
		if rs.Progressive != nil {
			cfg, field = rs.Progressive.RolloutConfig, "progressive"
			s.MaxConcurrency = rs.Progressive.MaxConcurrency
			s.Mandatory = rs.Progressive.MandatoryDecisionGroups.MandatoryDecisionGroups
		}
	case ProgressivePerGroup:
		if rs.ProgressivePerGroup != nil {
			cfg, field = rs.ProgressivePerGroup.RolloutConfig, "progressivePerGroup"
			s.Mandatory = rs.ProgressivePerGroup.MandatoryDecisionGroups.MandatoryDecisionGroups
		}
	default:
		return Strategy{}, fmt.Errorf("rolloutStrategy.type: %q is not All, Progressive or ProgressivePerGroup", rs.Type)
	}
	s.MinSuccessTime, s.MaxFailures = cfg.MinSuccessTime.Duration, cfg.MaxFailures
	s.ProgressDeadline = DefaultProgressDeadline
	if d := cfg.ProgressDeadline; d == "None" {
		s.ProgressDeadline = 0
	} else if d != "" {
		if s.ProgressDeadline, err = time.ParseDuration(d); err != nil || s.ProgressDeadline <= 0 {
			return Strategy{}, fmt.Errorf("rolloutStrategy.%s.progressDeadline: %q is not a duration such as 90s, 10m or None", field, d)
		}
	}
	if s.MinSuccessTime < 0 {
		return Strategy{}, fmt.Errorf("rolloutStrategy.%s.minSuccessTime: must not be negative", field)
	}
	for name, v := range map[string]intstr.IntOrString{"maxConcurrency": s.MaxConcurrency, "maxFailures": s.MaxFailures} {
		if _, err := resolve(v, 100); err != nil {
			return Strategy{}, fmt.Errorf("rolloutStrategy.%s.%s: %w", field, name, err)
		}
	}
	return s, nil
}

// resolve turns a number or a percentage of total into a count (a percentage rounds down).
func resolve(v intstr.IntOrString, total int) (int, error) {
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return 0, fmt.Errorf("%d must not be negative", v.IntVal)
		}
		return int(v.IntVal), nil
	}
	if v.StrVal == "" {
		return 0, nil
	}
	pct, ok := strings.CutSuffix(v.StrVal, "%")
	n, err := strconv.Atoi(pct)
	if !ok || err != nil || n < 0 || n > 100 {
		return 0, fmt.Errorf("%q is neither a number nor a percentage such as 25%%", v.StrVal)
	}
	return total * n / 100, nil
}

// Progressing reports whether the strategy changes clusters a few at a time: anything but All.
func (s Strategy) Progressing() bool { return s.Type == Progressive || s.Type == ProgressivePerGroup }
