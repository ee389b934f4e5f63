package dispatch

import (
	"encoding/json"
	"strings"
)

// Contains reports whether every field of desired has the same value in live: the object as
// applied is unchanged, whatever the API server defaulted or others added. Lists compare
// item by item and must have the same length. Numbers compare by value.
func Contains(live, desired any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		for k, dv := range d {
			lv, found := l[k]
			if !found {
				if isEmpty(dv) {
					continue
				}
				return false
			}
			if !Contains(lv, dv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		if len(l) != len(d) {
			return false
		}
		for i := range d {
			if !Contains(l[i], d[i]) {
				return false
			}
		}
		return true
	case nil:
		return live == nil
	}
	if dn, ok := number(desired); ok {
		ln, ok := number(live)
		return ok && dn == ln
	}
	return desired == live
}

// isEmpty is true for values the API server drops: empty maps and lists, and null.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// fieldPath splits a dotted path such as spec.replicas.
func fieldPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "."), ".")
}

// lookup returns the value at path in obj.
func lookup(obj map[string]any, path []string) (any, bool) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setOrDelete sets path in obj to v, or deletes it when found is false.
func setOrDelete(obj map[string]any, path []string, v any, found bool) {
	cur := obj
	for _, p := range path[:len(path)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			if !found {
				return
			}
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	last := path[len(path)-1]
	if found {
		cur[last] = v
	} else {
		delete(cur, last)
	}
}
