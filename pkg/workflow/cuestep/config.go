package cuestep

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// Where vela/config keeps configs: a Secret per config, as KubeVela keeps them, so that configs
// written by either can be read by the other.
const (
	configCatalogLabel = "config.oam.dev/catalog"
	configCatalog      = "velacore-config"
	configTypeLabel    = "config.oam.dev/type"
	configAlias        = "config.oam.dev/alias"
	configDescription  = "config.oam.dev/description"
	// configPropertiesKey holds the config's properties as JSON.
	configPropertiesKey = "input-properties"
)

// config runs the vela/config actions on the hub. Ferry has no config templates: a config is
// its properties, kept under input-properties; a template names only its type.
func (r *run) config(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	kube := r.e.opts.Kube
	if kube == nil {
		return fail("%s: no cluster access configured for %q", a.Path, a.Do)
	}
	name, _ := a.Fields["name"].(string)
	ns, _ := a.Fields["namespace"].(string)
	template, _ := a.Fields["template"].(string)
	if _, after, ok := strings.Cut(template, "/"); ok {
		template = after // namespace/name of a template: the type is its name
	}
	secret := func() map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": name, "namespace": ns}}
	}
	switch a.Do {
	case "create-config":
		props, _ := a.Fields["config"].(map[string]any)
		data, err := json.Marshal(props)
		if err != nil {
			return fail("%s: config %s/%s: %v", a.Path, ns, name, err)
		}
		obj := secret()
		obj["metadata"].(map[string]any)["labels"] = map[string]any{configCatalogLabel: configCatalog, configTypeLabel: template}
		obj["type"] = "Opaque"
		obj["data"] = map[string]any{configPropertiesKey: base64.StdEncoding.EncodeToString(data)}
		if _, err := kube.Apply(ctx, "", obj); err != nil {
			return fail("%s: write config %s/%s: %v", a.Path, ns, name, err)
		}
	case "read-config":
		live, err := kube.Read(ctx, "", secret())
		if err != nil {
			return fail("%s: read config %s/%s: %v", a.Path, ns, name, err)
		}
		props, err := configProperties(live)
		if err != nil {
			return fail("%s: config %s/%s: %v", a.Path, ns, name, err)
		}
		r.fill(a, "config", props)
	case "list-config":
		if template == "" || ns == "" {
			return fail("%s: list configs: give the template and the namespace", a.Path)
		}
		items, err := kube.List(ctx, "", "v1", "Secret", ns, map[string]string{configCatalogLabel: configCatalog, configTypeLabel: template})
		if err != nil {
			return fail("%s: list configs of %q in %s: %v", a.Path, template, ns, err)
		}
		sort.Slice(items, func(i, j int) bool { return objectName(items[i]) < objectName(items[j]) })
		configs := make([]any, 0, len(items))
		for _, it := range items {
			props, err := configProperties(it)
			if err != nil {
				return fail("%s: config %s/%s: %v", a.Path, ns, objectName(it), err)
			}
			annotations, _ := it["metadata"].(map[string]any)["annotations"].(map[string]any)
			alias, _ := annotations[configAlias].(string)
			description, _ := annotations[configDescription].(string)
			configs = append(configs, map[string]any{"name": objectName(it), "alias": alias, "description": description, "config": props})
		}
		r.fill(a, "configs", configs)
	case "delete-config":
		if err := kube.Delete(ctx, "", secret()); err != nil {
			return fail("%s: delete config %s/%s: %v", a.Path, ns, name, err)
		}
	}
	return workflow.Result{}, false
}

// configProperties decodes the properties a config Secret keeps.
func configProperties(secret map[string]any) (map[string]any, error) {
	data, _ := secret["data"].(map[string]any)
	encoded, ok := data[configPropertiesKey].(string)
	if !ok {
		return nil, fmt.Errorf("the Secret has no %s: it is not a config", configPropertiesKey)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configPropertiesKey, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	props := map[string]any{}
	if err := dec.Decode(&props); err != nil {
		return nil, fmt.Errorf("%s: %w", configPropertiesKey, err)
	}
	cue.NormalizeJSON(props)
	return props, nil
}

func objectName(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}
