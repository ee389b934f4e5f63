package cue

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// Patch is a trait's `patch` (or one `patchOutputs` entry) with the strategy annotations the
// template declared for it.
type Patch struct {
	// Value is the evaluated patch.
	Value       map[string]any
	annotations annotations
	// each holds the element of each open list the patch writes, `[...{...}]`, by path: it is
	// merged into every element of the list patched.
	each map[string]any
}

// PatchError says where a patch could not be merged.
type PatchError struct {
	// Path is where the merge failed, e.g. spec.replicas.
	Path    string
	Message string
}

func (e *PatchError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Apply merges the patch into base and returns the result; base is not modified.
//
// Structs merge field by field. Lists merge element by element, or by key when the template
// marks them with `// +patchKey=`. A scalar that differs is a conflict, as in CUE unification,
// unless the field is marked `// +patchStrategy=retainKeys` (the patch wins) or `replace`.
// `jsonPatch` and `jsonMergePatch` on the patch root apply RFC 6902 operations or an RFC 7386
// merge patch.
func (p *Patch) Apply(base map[string]any) (map[string]any, error) {
	root := p.annotations[""]
	switch root.strategy {
	case StrategyJSONPatch:
		return applyJSONPatch(base, p.Value)
	case StrategyJSONMergePatch:
		merged, _ := mergePatch(deepCopy(base), p.Value).(map[string]any)
		return merged, nil
	}
	m := merger{annotations: p.annotations, each: p.each}
	out, err := m.merge(deepCopy(base), p.Value, "", "", root.strategy == StrategyRetainKeys)
	if err != nil {
		return nil, err
	}
	merged, ok := out.(map[string]any)
	if !ok {
		return nil, &PatchError{Message: "patch must be a struct"}
	}
	return merged, nil
}

type merger struct {
	annotations annotations
	each        map[string]any
}

// merge merges patch into orig. annPath addresses annotations (list elements as "[]");
// shown is the user-facing path with indices.
func (m merger) merge(orig, patch any, annPath, shown string, override bool) (any, error) {
	an := m.annotations[annPath]
	switch an.strategy {
	case StrategyReplace:
		return deepCopy(patch), nil
	case StrategyJSONMergePatch:
		return mergePatch(orig, patch), nil
	case StrategyRetainKeys:
		override = true
	}
	if orig == nil {
		return deepCopy(patch), nil
	}
	switch pv := patch.(type) {
	case map[string]any:
		ov, ok := orig.(map[string]any)
		if !ok {
			return nil, conflict(shown, orig, patch)
		}
		if an.strategy == StrategyRetainKeys {
			for k := range ov {
				if _, keep := pv[k]; !keep {
					delete(ov, k)
				}
			}
		}
		for k, v := range pv {
			merged, err := m.merge(ov[k], v, joinPath(annPath, k), joinPath(shown, k), override)
			if err != nil {
				return nil, err
			}
			ov[k] = merged
		}
		return ov, nil
	case []any:
		ol, ok := orig.([]any)
		if !ok {
			return nil, conflict(shown, orig, patch)
		}
		if elem, ok := m.each[annPath]; ok && len(pv) == 0 {
			// [...{...}]: the element goes into every element there is.
			for i := range ol {
				merged, err := m.merge(ol[i], deepCopy(elem), annPath+".[]", shown+"["+strconv.Itoa(i)+"]", override)
				if err != nil {
					return nil, err
				}
				ol[i] = merged
			}
			return ol, nil
		}
		if len(an.keys) > 0 {
			return m.mergeByKey(ol, pv, an.keys, annPath, shown, override)
		}
		if len(ol) != len(pv) {
			if override {
				return deepCopy(patch), nil
			}
			return nil, &PatchError{Path: shown, Message: fmt.Sprintf(
				"cannot merge a list of %d into a list of %d: mark the field with // +patchKey=<key> or // +patchStrategy=replace",
				len(pv), len(ol))}
		}
		for i := range pv {
			merged, err := m.merge(ol[i], pv[i], annPath+".[]", shown+"["+strconv.Itoa(i)+"]", override)
			if err != nil {
				return nil, err
			}
			ol[i] = merged
		}
		return ol, nil
	default:
		if override || reflect.DeepEqual(normalizeNumber(orig), normalizeNumber(patch)) {
			return patch, nil
		}
		return nil, conflict(shown, orig, patch)
	}
}

// mergeByKey merges list elements that agree on every key, and appends the others.
func (m merger) mergeByKey(orig, patch []any, keys []string, annPath, shown string, override bool) (any, error) {
	for _, p := range patch {
		pm, ok := p.(map[string]any)
		if !ok {
			return nil, &PatchError{Path: shown, Message: fmt.Sprintf("+patchKey=%s needs list elements that are structs", strings.Join(keys, ","))}
		}
		idx := -1
		for i, o := range orig {
			if om, ok := o.(map[string]any); ok && sameKeys(om, pm, keys) {
				idx = i
				break
			}
		}
		if idx < 0 {
			orig = append(orig, deepCopy(pm))
			continue
		}
		merged, err := m.merge(orig[idx], pm, annPath+".[]", shown+"["+strconv.Itoa(idx)+"]", override)
		if err != nil {
			return nil, err
		}
		orig[idx] = merged
	}
	return orig, nil
}

func sameKeys(a, b map[string]any, keys []string) bool {
	for _, k := range keys {
		av, aok := a[k]
		bv, bok := b[k]
		if !aok || !bok || !reflect.DeepEqual(normalizeNumber(av), normalizeNumber(bv)) {
			return false
		}
	}
	return true
}

func conflict(path string, orig, patch any) error {
	return &PatchError{Path: path, Message: fmt.Sprintf(
		"conflicting values: the object has %s, the patch sets %s (mark the field with // +patchStrategy=retainKeys to let the patch win)",
		short(orig), short(patch))}
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return oneLine(string(b), 60)
}

// normalizeNumber makes 3, int64(3) and 3.0 compare equal.
func normalizeNumber(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case int32:
		return float64(n)
	case uint64:
		return float64(n)
	case float32:
		return float64(n)
	}
	return v
}

// mergePatch applies an RFC 7386 JSON merge patch.
func mergePatch(orig, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return deepCopy(patch)
	}
	om, ok := orig.(map[string]any)
	if !ok {
		om = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(om, k)
			continue
		}
		om[k] = mergePatch(om[k], v)
	}
	return om
}

func applyJSONPatch(base, patch map[string]any) (map[string]any, error) {
	ops, ok := patch["operations"]
	if !ok {
		return nil, &PatchError{Message: "a jsonPatch patch needs `operations`: a list of RFC 6902 operations"}
	}
	opsJSON, err := json.Marshal(ops)
	if err != nil {
		return nil, &PatchError{Message: "encode operations: " + err.Error()}
	}
	decoded, err := jsonpatch.DecodePatch(opsJSON)
	if err != nil {
		return nil, &PatchError{Message: "invalid operations: " + err.Error()}
	}
	doc, err := json.Marshal(base)
	if err != nil {
		return nil, &PatchError{Message: "encode object: " + err.Error()}
	}
	patched, err := decoded.Apply(doc)
	if err != nil {
		return nil, &PatchError{Message: "apply operations: " + err.Error()}
	}
	out, err := DecodeJSONObject(patched)
	if err != nil {
		return nil, &PatchError{Message: "decode patched object: " + err.Error()}
	}
	return out, nil
}

// DecodeJSONObject decodes a JSON object keeping integers as int64, as CUE and YAML expect.
func DecodeJSONObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := NormalizeJSON(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object, got %T", v)
	}
	return m, nil
}

// NormalizeJSON turns json.Number values into int64 or float64, recursively.
func NormalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = NormalizeJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = NormalizeJSON(e)
		}
		return x
	}
	return v
}

// deepCopy copies maps and lists so merges never alias their inputs.
// DeepCopy copies plain data (maps, lists and scalars) so the copy can be changed freely.
func DeepCopy(v any) any { return deepCopy(v) }

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
