package definition

import (
	"testing"

	"github.com/stretchr/testify/require"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// kubeVelaParameters are parameters that KubeVela's definitions of the same name declare,
// written from KubeVela's definitions (names only; list elements as []). A built-in must accept
// each of them, so that a KubeVela Application using it renders here. The table covers the
// definitions made compatible so far; see docs/reference for Ferry's own additions.
var kubeVelaParameters = map[Kind]map[string][]string{
	KindComponent: {
		"webservice": {"labels", "annotations", "image", "imagePullPolicy", "imagePullSecrets", "port", "ports", "ports[].port",
			"ports[].containerPort", "ports[].name", "ports[].protocol", "ports[].expose", "exposeType", "cmd", "args", "env",
			"env[].name", "env[].value", "env[].valueFrom", "cpu", "memory", "limit", "volumeMounts", "volumeMounts.pvc",
			"volumeMounts.pvc[].claimName", "volumeMounts.pvc[].subPath", "volumeMounts.configMap", "volumeMounts.configMap[].cmName",
			"volumeMounts.configMap[].defaultMode", "volumeMounts.configMap[].items", "volumeMounts.secret",
			"volumeMounts.secret[].secretName", "volumeMounts.emptyDir", "volumeMounts.emptyDir[].medium", "volumeMounts.hostPath",
			"volumeMounts.hostPath[].path", "volumes", "volumes[].type", "volumes[].claimName", "volumes[].cmName",
			"volumes[].secretName", "livenessProbe", "readinessProbe", "hostAliases", "hostAliases[].ip", "hostAliases[].hostnames"},
		"worker": {"image", "imagePullPolicy", "imagePullSecrets", "cmd", "args", "env", "cpu", "memory", "volumeMounts", "volumes", "hostAliases"},
		"task":   {"image", "cmd", "args", "env", "cpu", "memory", "volumeMounts", "volumes", "hostAliases"},
		"daemon": {"image", "imagePullPolicy", "cmd", "args", "env", "cpu", "memory", "volumeMounts", "volumes", "hostAliases"},
		"raw":    {"apiVersion", "kind"},
	},
	KindTrait: {
		"lifecycle": {"postStart", "postStart.exec", "postStart.exec.command", "postStart.httpGet", "postStart.httpGet.path",
			"postStart.httpGet.port", "postStart.httpGet.host", "postStart.httpGet.scheme", "postStart.httpGet.httpHeaders",
			"postStart.tcpSocket", "postStart.tcpSocket.port", "postStart.tcpSocket.host", "preStop"},
		"podsecuritycontext": {"appArmorProfile", "appArmorProfile.type", "appArmorProfile.localhostProfile", "fsGroup", "runAsGroup",
			"runAsUser", "runAsNonRoot", "seccompProfile", "seccompProfile.type", "seccompProfile.localhostProfile"},
		"container-ports": {"containerName", "ports", "ports[].containerPort", "ports[].protocol", "ports[].hostPort", "ports[].hostIP"},
		"pure-ingress":    {"domain", "http"},
		"hostalias":       {"hostAliases", "hostAliases[].ip", "hostAliases[].hostnames"},
		"hpa": {"min", "max", "targetAPIVersion", "targetKind", "cpu", "cpu.type", "cpu.value", "mem", "mem.type", "mem.value",
			"podCustomMetrics", "podCustomMetrics[].name", "podCustomMetrics[].value"},
		"k8s-update-strategy": {"targetAPIVersion", "targetKind", "strategy", "strategy.type", "strategy.rollingStrategy",
			"strategy.rollingStrategy.maxSurge", "strategy.rollingStrategy.maxUnavailable", "strategy.rollingStrategy.partition"},
		"env":           {"env", "containerName", "replace", "unset", "containers"},
		"command":       {"command", "args", "addArgs", "delArgs", "containerName", "containers"},
		"node-affinity": {"affinity", "tolerations"},
		"ingress":       {"domain", "http", "class"},
		"ingress-1-20":  {"domain", "http", "class"},
		"resource":      {"cpu", "memory", "requests", "requests.cpu", "requests.memory", "limits", "limits.cpu", "limits.memory"},
		"storage": {"pvc", "pvc[].name", "pvc[].mountOnly", "pvc[].mountPath", "pvc[].subPath", "pvc[].volumeMode", "pvc[].volumeName",
			"pvc[].accessModes", "pvc[].storageClassName", "pvc[].resources", "pvc[].dataSourceRef", "pvc[].dataSource", "pvc[].selector",
			"configMap", "configMap[].mountToEnv", "configMap[].mountToEnvs", "configMap[].subPath", "configMap[].defaultMode",
			"configMap[].readOnly", "configMap[].data", "configMap[].items", "secret", "secret[].mountToEnv", "secret[].mountToEnvs",
			"secret[].data", "secret[].stringData", "secret[].items", "emptyDir", "emptyDir[].medium", "hostPath", "hostPath[].path"},
	},
	KindWorkflowStep: {
		"notification": {"lark", "lark.url", "lark.message", "lark.message.msg_type", "lark.message.content", "dingding",
			"dingding.url", "dingding.message", "slack", "slack.url", "slack.message", "slack.message.text", "email", "email.from",
			"email.from.address", "email.from.alias", "email.from.password", "email.from.host", "email.from.port", "email.to",
			"email.content", "email.content.subject", "email.content.body"},
		"apply-component": {"component", "cluster", "namespace"},
	},
}

func TestBuiltinsAcceptKubeVelaParameters(t *testing.T) {
	reg, err := Builtin()
	require.NoError(t, err)
	engine := ferrycue.NewEngine(ferrycue.Options{})
	for kind, defs := range kubeVelaParameters {
		for name, params := range defs {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				d, err := reg.Get(kind, name)
				require.NoError(t, err)
				tmpl, err := engine.Compile(d.Source())
				require.NoError(t, err)
				have := map[string]bool{}
				for _, p := range tmpl.Parameters() {
					have[p.Name] = true
				}
				for _, p := range params {
					require.True(t, have[p], "%s %q does not declare KubeVela's parameter %q", kind, name, p)
				}
			})
		}
	}
}
