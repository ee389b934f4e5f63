package cuestep

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// DefaultMetricEndpoint is where #PromCheck queries when the step names no metricEndpoint:
// KubeVela's Prometheus addon's server.
const DefaultMetricEndpoint = "http://prometheus-server.o11y-system.svc:9090"

// promCheck runs a Prometheus query through the HTTP provider (so its host must be allowed) and
// compares the result with the condition. The step passes once the condition has held for
// duration, and fails once it has not held for failDuration; until then result is false and the
// step waits. When each began is kept in the ledger under the execution, so a restarted
// controller goes on counting.
func (r *run) promCheck(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	if r.e.opts.HTTP == nil {
		return fail("%s: no HTTP access configured", a.Path)
	}
	query, _ := a.Fields["query"].(string)
	endpoint, _ := a.Fields["metricEndpoint"].(string)
	if endpoint == "" {
		endpoint = DefaultMetricEndpoint
	}
	cond, err := parseCondition(fmt.Sprint(a.Fields["condition"]))
	if err != nil {
		return fail("%s: condition %q: %v", a.Path, a.Fields["condition"], err)
	}
	durations := map[string]time.Duration{"duration": 5 * time.Minute, "failDuration": 2 * time.Minute}
	for field := range durations {
		if s, _ := a.Fields[field].(string); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fail("%s: %s %q: %v", a.Path, field, s, err)
			}
			durations[field] = d
		}
	}
	resp, err := r.e.opts.HTTP.Do(ctx, HTTPRequest{Method: http.MethodGet,
		URL: strings.TrimRight(endpoint, "/") + "/api/v1/query?query=" + url.QueryEscape(query)})
	if err != nil {
		return fail("%s: query Prometheus at %s: %v", a.Path, endpoint, err)
	}
	value, err := promValue(resp)
	if err != nil {
		return fail("%s: query %q at %s: %v", a.Path, query, endpoint, err)
	}
	now := r.in.Now
	if now.IsZero() {
		now = time.Now()
	}
	met := cond.holds(value)
	since, err := r.promSince(ctx, a, met, now)
	if err != nil {
		return fail("%s: %v", a.Path, err)
	}
	held := now.Sub(since)
	r.progress = &workflow.Progress{Metric: &workflow.MetricReading{Query: query, Value: strconv.FormatFloat(value, 'g', -1, 64),
		Condition: cond.String(), Met: met, Since: &since}}
	outcome := map[string]any{"result": false, "failed": false}
	switch {
	case met && held >= durations["duration"]:
		outcome["result"] = true
		outcome["message"] = fmt.Sprintf("%s is %g, %s, for %s", query, value, cond, held.Round(time.Second))
	case met:
		outcome["message"] = fmt.Sprintf("%s is %g, %s, for %s of %s", query, value, cond, held.Round(time.Second), durations["duration"])
	case held >= durations["failDuration"]:
		outcome["failed"] = true
		outcome["message"] = fmt.Sprintf("%s is %g, not %s, for %s", query, value, cond, held.Round(time.Second))
	default:
		outcome["message"] = fmt.Sprintf("%s is %g, not %s, for %s of %s", query, value, cond, held.Round(time.Second), durations["failDuration"])
	}
	for field, v := range outcome {
		r.fill(a, field, v)
	}
	return workflow.Result{}, false
}

// promSince returns since when the condition has been met (met) or not met, as the ledger
// remembers for this execution, recording now when it changed.
func (r *run) promSince(ctx context.Context, a cue.Action, met bool, now time.Time) (time.Time, error) {
	key := r.in.ExecutionID + "/" + a.Path + "/since"
	state := strconv.FormatBool(met)
	if v, ok, err := r.e.opts.Ledger.Get(ctx, key); err != nil {
		return time.Time{}, fmt.Errorf("read ledger: %w", err)
	} else if ok {
		if was, at, found := strings.Cut(v, " "); found && was == state {
			if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
				return t, nil
			}
		}
	}
	return now, r.e.opts.Ledger.Put(ctx, key, state+" "+now.Format(time.RFC3339Nano))
}

// promValue reads the single number of a Prometheus query answer: a scalar, or a vector of one
// sample.
func promValue(resp HTTPResponse) (float64, error) {
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		return 0, fmt.Errorf("answer %d is not a Prometheus answer: %w", resp.StatusCode, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("the answer is %s: %s", body.Status, body.Error)
	}
	var sample []any
	switch body.Data.ResultType {
	case "scalar":
		if err := json.Unmarshal(body.Data.Result, &sample); err != nil {
			return 0, err
		}
	case "vector":
		var vector []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &vector); err != nil {
			return 0, err
		}
		if len(vector) != 1 {
			return 0, fmt.Errorf("the query gives %d series; it must give one (aggregate it, e.g. with sum)", len(vector))
		}
		sample = vector[0].Value
	default:
		return 0, fmt.Errorf("the query gives a %s; it must give a number", body.Data.ResultType)
	}
	if len(sample) != 2 {
		return 0, fmt.Errorf("unexpected sample %v", sample)
	}
	s, _ := sample[1].(string)
	return strconv.ParseFloat(s, 64)
}

// condition compares a number with a threshold, e.g. ">=0.95".
type condition struct {
	op        string
	threshold float64
}

func parseCondition(s string) (condition, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", "==", "!=", ">", "<"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return condition{}, fmt.Errorf("want an operator and a number, e.g. >=0.95: %w", err)
			}
			return condition{op: op, threshold: v}, nil
		}
	}
	return condition{}, fmt.Errorf("want an operator (>=, <=, ==, !=, >, <) and a number, e.g. >=0.95")
}

func (c condition) holds(v float64) bool {
	switch c.op {
	case ">=":
		return v >= c.threshold
	case "<=":
		return v <= c.threshold
	case "==":
		return v == c.threshold
	case "!=":
		return v != c.threshold
	case ">":
		return v > c.threshold
	default:
		return v < c.threshold
	}
}

func (c condition) String() string { return fmt.Sprintf("%s%g", c.op, c.threshold) }
