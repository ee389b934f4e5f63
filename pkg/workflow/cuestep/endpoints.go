package cuestep

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// collectServiceEndpoints lists where an Application's Services and Ingresses on the hub can be
// reached, in KubeVela's endpoint shape: {endpoint: {protocol, appProtocol, host, port,
// portName, path, inner}, ref, cluster, component}. A ClusterIP port is reached inside the
// cluster at <service>.<namespace>; a LoadBalancer port at each address its status gives; an
// Ingress rule at its host and path. $returns.list (list in vela/op's form) holds them, sorted.
func (r *run) collectServiceEndpoints(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	kube := r.e.opts.Kube
	if kube == nil {
		return fail("%s: no cluster access configured for %q", a.Path, a.Do)
	}
	app, _ := a.Fields["app"].(map[string]any)
	name, _ := app["name"].(string)
	ns, _ := app["namespace"].(string)
	var components []string
	if filter, ok := app["filter"].(map[string]any); ok {
		if list, ok := filter["components"].([]any); ok {
			for _, c := range list {
				components = append(components, fmt.Sprint(c))
			}
		}
	}
	selector := map[string]string{v1beta1.LabelAppName: name, v1beta1.LabelAppNamespace: ns}
	var endpoints []map[string]any
	for _, kind := range []struct{ apiVersion, kind string }{{"v1", "Service"}, {"networking.k8s.io/v1", "Ingress"}} {
		items, err := kube.List(ctx, "", kind.apiVersion, kind.kind, "", selector)
		if err != nil {
			return fail("%s: list the %ss of application %s/%s: %v", a.Path, kind.kind, ns, name, err)
		}
		for _, it := range items {
			meta, _ := it["metadata"].(map[string]any)
			labels, _ := meta["labels"].(map[string]any)
			component, _ := labels[v1beta1.LabelAppComponent].(string)
			if len(components) > 0 && !slices.Contains(components, component) {
				continue
			}
			ref := map[string]any{"apiVersion": kind.apiVersion, "kind": kind.kind, "name": meta["name"], "namespace": meta["namespace"]}
			var found []map[string]any
			if kind.kind == "Service" {
				found = serviceEndpoints(it)
			} else {
				found = ingressEndpoints(it)
			}
			for _, ep := range found {
				endpoints = append(endpoints, map[string]any{"endpoint": ep, "ref": ref, "cluster": "local", "component": component})
			}
		}
	}
	sort.SliceStable(endpoints, func(i, j int) bool {
		return fmt.Sprint(endpoints[i]["ref"], endpoints[i]["endpoint"]) < fmt.Sprint(endpoints[j]["ref"], endpoints[j]["endpoint"])
	})
	list := make([]any, len(endpoints))
	for i, ep := range endpoints {
		list[i] = ep
	}
	if r.returns[a.Path] {
		_ = r.ev.Fill(a, returnsField, map[string]any{"list": list})
	} else {
		_ = r.ev.Fill(a, "list", list)
	}
	return workflow.Result{}, false
}

// serviceEndpoints are the endpoints of one Service's ports.
func serviceEndpoints(svc map[string]any) []map[string]any {
	meta, _ := svc["metadata"].(map[string]any)
	spec, _ := svc["spec"].(map[string]any)
	typ, _ := spec["type"].(string)
	ports, _ := spec["ports"].([]any)
	var out []map[string]any
	for _, p := range ports {
		port, _ := p.(map[string]any)
		number := toInt64(port["port"])
		protocol, _ := port["protocol"].(string)
		if protocol == "" {
			protocol = "TCP"
		}
		portName, _ := port["name"].(string)
		ep := func(host string, inner bool) map[string]any {
			return map[string]any{"protocol": protocol, "appProtocol": appProtocol(number), "host": host, "port": number,
				"portName": portName, "inner": inner}
		}
		switch typ {
		case "LoadBalancer":
			status, _ := svc["status"].(map[string]any)
			lb, _ := status["loadBalancer"].(map[string]any)
			ingress, _ := lb["ingress"].([]any)
			for _, in := range ingress {
				addr, _ := in.(map[string]any)
				host, _ := addr["ip"].(string)
				if host == "" {
					host, _ = addr["hostname"].(string)
				}
				if host != "" {
					out = append(out, ep(host, false))
				}
			}
		case "ExternalName":
			host, _ := spec["externalName"].(string)
			out = append(out, ep(host, false))
		default: // ClusterIP and NodePort: reached inside the cluster by the Service's name
			out = append(out, ep(fmt.Sprintf("%v.%v", meta["name"], meta["namespace"]), true))
		}
	}
	return out
}

// ingressEndpoints are the endpoints of one Ingress's rules: HTTPS when its TLS covers the host.
func ingressEndpoints(ing map[string]any) []map[string]any {
	spec, _ := ing["spec"].(map[string]any)
	tlsHosts := map[string]bool{}
	if tls, ok := spec["tls"].([]any); ok {
		for _, t := range tls {
			entry, _ := t.(map[string]any)
			hosts, _ := entry["hosts"].([]any)
			for _, h := range hosts {
				tlsHosts[fmt.Sprint(h)] = true
			}
		}
	}
	rules, _ := spec["rules"].([]any)
	var out []map[string]any
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		host, _ := rule["host"].(string)
		port, proto := int64(80), "http"
		if tlsHosts[host] {
			port, proto = 443, "https"
		}
		http, _ := rule["http"].(map[string]any)
		paths, _ := http["paths"].([]any)
		for _, p := range paths {
			path, _ := p.(map[string]any)["path"].(string)
			out = append(out, map[string]any{"protocol": "HTTP", "appProtocol": proto, "host": host, "port": port, "portName": "",
				"path": path, "inner": false})
		}
	}
	return out
}

// appProtocol guesses the application protocol of a port by its number.
func appProtocol(port int64) string {
	switch port {
	case 80, 8080:
		return "http"
	case 443, 8443:
		return "https"
	default:
		return "tcp"
	}
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}
