package appfile

import (
	"context"
	"fmt"
	"sort"

	yaml "go.yaml.in/yaml/v4"
)

// StaticObjects is an ObjectReader over objects given up front, e.g. from a file for an offline
// render, with integers as int64. The same objects are found on every cluster.
type StaticObjects []map[string]any

// Read finds the object with the reference's apiVersion, kind, namespace and name.
func (s StaticObjects) Read(_ context.Context, _ string, ref map[string]any) (map[string]any, error) {
	key := objectKey(ref)
	for _, obj := range s {
		candidate := obj
		if meta, ok := obj["metadata"].(map[string]any); ok && meta["namespace"] == nil {
			// An object given without a namespace is found in any namespace.
			copied := map[string]any{}
			for k, v := range obj {
				copied[k] = v
			}
			m := map[string]any{}
			for k, v := range meta {
				m[k] = v
			}
			refMeta, _ := ref["metadata"].(map[string]any)
			m["namespace"] = refMeta["namespace"]
			copied["metadata"] = m
			candidate = copied
		}
		if objectKey(candidate) == key {
			return obj, nil // templates read it; nothing changes it
		}
	}
	return nil, fmt.Errorf("%s not found among the objects given", key)
}

// List finds the objects of the reference's apiVersion and kind in its namespace (objects given
// without one are in every namespace) that carry every one of labels, sorted by name.
func (s StaticObjects) List(_ context.Context, _ string, ref map[string]any, labels map[string]string) ([]map[string]any, error) {
	refMeta, _ := ref["metadata"].(map[string]any)
	var out []map[string]any
	for _, obj := range s {
		if obj["apiVersion"] != ref["apiVersion"] || obj["kind"] != ref["kind"] {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		if ns, ok := meta["namespace"]; ok && ns != refMeta["namespace"] {
			continue
		}
		have, _ := meta["labels"].(map[string]any)
		if !hasLabels(have, labels) {
			continue
		}
		out = append(out, obj)
	}
	sort.SliceStable(out, func(i, j int) bool { return objectNameOf(out[i]) < objectNameOf(out[j]) })
	return out, nil
}

func hasLabels(have map[string]any, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func objectNameOf(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// ParseObjects reads a YAML stream of objects into StaticObjects.
func ParseObjects(filename string, data []byte) (StaticObjects, error) {
	var out StaticObjects
	err := eachDocument(filename, data, func(i int, root *yaml.Node) error {
		conv := &Appfile{File: filename, positions: map[string]Position{}, budget: maxNodes}
		v, err := conv.toValue(root, "", 0)
		if err != nil {
			return err
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: document %d is not an object", filename, i)
		}
		out = append(out, obj)
		return nil
	})
	return out, err
}
