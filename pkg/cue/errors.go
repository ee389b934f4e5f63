package cue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	cuelang "cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
)

// FieldError is one problem with one parameter value, as the user wrote it.
type FieldError struct {
	// Path is the parameter path, e.g. ["ports", "0", "port"].
	Path []string
	// Message says what was expected and what was given.
	Message string
	// Unknown marks a property the definition does not declare.
	Unknown bool
	// Missing marks a required parameter that was not given.
	Missing bool
}

// PathString renders the path as a.b[0].c.
func (f FieldError) PathString() string { return FormatPath(f.Path) }

// FormatPath renders a parameter path as a.b[0].c.
func FormatPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// ParameterError lists every problem with the parameters given to one template.
type ParameterError struct {
	// Template names the template, e.g. `component definition "webservice"`.
	Template string
	Errors   []FieldError
}

func (e *ParameterError) Error() string {
	msgs := make([]string, 0, len(e.Errors))
	for _, f := range e.Errors {
		msgs = append(msgs, fmt.Sprintf("parameter %s: %s", f.PathString(), f.Message))
	}
	return fmt.Sprintf("%s: %s", e.Template, strings.Join(msgs, "; "))
}

// TemplateError is a problem in a template itself: the definition author must fix it.
type TemplateError struct {
	// Template names the template.
	Template string
	// Op is what failed, e.g. "evaluate output".
	Op string
	// Details are the CUE errors, each with its source position when known.
	Details []string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Template, e.Op, strings.Join(e.Details, "; "))
}

func newTemplateError(template, op string, err error) *TemplateError {
	te := &TemplateError{Template: template, Op: op}
	all := cueerrors.Errors(err)
	for _, ce := range all {
		// "N errors in empty disjunction:" only introduces the errors that follow it.
		if format, _ := ce.Msg(); len(all) > 1 && strings.Contains(format, "errors in empty disjunction") {
			continue
		}
		te.Details = append(te.Details, describeCUEError(ce))
	}
	if len(te.Details) == 0 {
		te.Details = []string{err.Error()}
	}
	return te
}

// FormatError renders every CUE error in err as "file:line:col: path: message", joined by "; ".
// Errors that are not CUE errors are returned as they are.
func FormatError(err error) string {
	var parts []string
	for _, ce := range cueerrors.Errors(err) {
		parts = append(parts, describeCUEError(ce))
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, "; ")
}

// describeCUEError renders one CUE error as "file:line:col: path: message".
func describeCUEError(ce cueerrors.Error) string {
	format, args := ce.Msg()
	msg := fmt.Sprintf(format, args...)
	if p := ce.Path(); len(p) > 0 {
		msg = strings.Join(p, ".") + ": " + msg
	}
	positions := cueerrors.Positions(ce)
	for _, pos := range positions {
		if pos.IsValid() && pos.Filename() != "" {
			return fmt.Sprintf("%s:%d:%d: %s", pos.Filename(), pos.Line(), pos.Column(), msg)
		}
	}
	for _, pos := range positions {
		if pos.IsValid() {
			return fmt.Sprintf("line %d:%d: %s", pos.Line(), pos.Column(), msg)
		}
	}
	return msg
}

// parameterErrors turns CUE validation errors of `parameter` into one FieldError per path.
func (t *instance) parameterErrors(err error, given map[string]any) []FieldError {
	var out []FieldError
	seen := map[string]bool{}
	for _, ce := range cueerrors.Errors(err) {
		path := ce.Path()
		if len(path) > 0 && path[0] == "parameter" {
			path = path[1:]
		}
		key := strings.Join(path, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		format, args := ce.Msg()
		msg := fmt.Sprintf(format, args...)
		value, present := lookupGiven(given, path)
		expected := t.schemaString(path)
		missing := false
		switch {
		case !present && (strings.Contains(msg, "incomplete value") || strings.Contains(msg, "non-concrete")):
			msg = fmt.Sprintf("required but not given (expected %s)", expected)
			missing = true
		case strings.Contains(msg, "conflicting values") || strings.Contains(msg, "empty disjunction") ||
			strings.Contains(msg, "mismatched types"):
			msg = fmt.Sprintf("expected %s, got %s", expected, formatGiven(value))
		case strings.Contains(msg, "incomplete value") || strings.Contains(msg, "non-concrete"):
			msg = fmt.Sprintf("expected %s, got %s", expected, formatGiven(value))
		case present:
			msg = fmt.Sprintf("%s (expected %s, got %s)", msg, expected, formatGiven(value))
		}
		out = append(out, FieldError{Path: path, Message: msg, Missing: missing})
	}
	return out
}

// schemaString renders the schema of a parameter path on one line.
func (t *instance) schemaString(path []string) string {
	v := t.value.LookupPath(pathParameter)
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			elem, ok := listElement(v)
			if !ok {
				return "a value the template accepts"
			}
			v = elem
		} else {
			v = lookupField(v, p)
		}
		if !v.Exists() {
			return "a value the template accepts"
		}
	}
	return oneLine(fmt.Sprint(v), 80)
}

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit-3] + "..."
	}
	return s
}

func lookupGiven(given map[string]any, path []string) (any, bool) {
	var cur any = given
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func formatGiven(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	kind := "null"
	switch v.(type) {
	case string:
		kind = "string"
	case bool:
		kind = "bool"
	case int, int64, int32, uint64:
		kind = "int"
	case float64, float32:
		kind = "number"
	case map[string]any:
		kind = "struct"
	case []any:
		kind = "list"
	}
	return oneLine(string(b), 60) + " (" + kind + ")"
}

// decode is Value.Decode that turns a panic inside CUE into an error: v0.17 panics decoding some
// values, e.g. the builtin `or` given as an expression.
func decode(v cuelang.Value, x any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode %v: %v", v, r)
		}
	}()
	return v.Decode(x)
}
