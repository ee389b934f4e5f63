package definition

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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

// kubeVelaTypes are parameters KubeVela's definitions declare, with their kinds (string, int,
// number, bool, list, struct), written from KubeVela's documentation: a built-in of the same
// name must declare each with a type that takes a value of that kind.
var kubeVelaTypes = map[Kind]map[string]string{
	KindComponent: {
		"webservice": `labels:struct annotations:struct image:string imagePullPolicy:string imagePullSecrets:list port:int
			ports:list ports[].port:int ports[].containerPort:int ports[].name:string ports[].protocol:string ports[].expose:bool
			ports[].nodePort:int exposeType:string addRevisionLabel:bool cmd:list args:list env:list env[].name:string
			env[].value:string env[].valueFrom:struct cpu:string memory:string limit:struct limit.cpu:string limit.memory:string
			volumeMounts:struct volumes:list livenessProbe:struct readinessProbe:struct hostAliases:list`,
		"worker": `labels:struct annotations:struct image:string imagePullPolicy:string imagePullSecrets:list cmd:list env:list
			cpu:string memory:string volumeMounts:struct volumes:list livenessProbe:struct readinessProbe:struct`,
		"task": `labels:struct annotations:struct count:int image:string imagePullPolicy:string imagePullSecrets:list
			restart:string cmd:list env:list cpu:string memory:string volumeMounts:struct volumes:list livenessProbe:struct
			readinessProbe:struct`,
		"daemon": `labels:struct annotations:struct image:string imagePullPolicy:string imagePullSecrets:list ports:list
			exposeType:string cmd:list env:list cpu:string memory:string volumeMounts:struct volumes:list
			livenessProbe:struct readinessProbe:struct hostAliases:list volumeMounts.hostPath:list
			volumeMounts.hostPath[].path:string volumeMounts.hostPath[].mountPropagation:string
			volumeMounts.hostPath[].readOnly:bool`,
		"cron-task": `labels:struct annotations:struct schedule:string startingDeadlineSeconds:int suspend:bool
			concurrencyPolicy:string successfulJobsHistoryLimit:int failedJobsHistoryLimit:int count:int image:string
			imagePullPolicy:string imagePullSecrets:list restart:string cmd:list env:list cpu:string memory:string
			volumes:list hostAliases:list ttlSecondsAfterFinished:int activeDeadlineSeconds:int backoffLimit:int
			livenessProbe:struct readinessProbe:struct`,
		"statefulset": `labels:struct annotations:struct image:string imagePullPolicy:string imagePullSecrets:list port:int
			ports:list ports[].port:int ports[].containerPort:int ports[].name:string ports[].protocol:string
			ports[].expose:bool ports[].nodePort:int exposeType:string addRevisionLabel:bool cmd:list args:list env:list
			cpu:string memory:string volumeMounts:struct volumes:list livenessProbe:struct readinessProbe:struct
			hostAliases:list`,
		"k8s-objects": `objects:list`,
		"ref-objects": `objects:list objects[].apiVersion:string objects[].kind:string objects[].resource:string objects[].group:string
			objects[].name:string objects[].namespace:string objects[].cluster:string objects[].labelSelector:struct urls:list`,
	},
	KindTrait: {
		"scaler":    `replicas:int`,
		"cpuscaler": `min:int max:int cpuUtil:int targetAPIVersion:string targetKind:string`,
		"expose": `port:list ports:list ports[].port:int ports[].name:string ports[].containerPort:int ports[].protocol:string
			ports[].nodePort:int annotations:struct matchLabels:struct type:string`,
		"gateway": `domain:string http:struct class:string classInSpec:bool secretName:string gatewayHost:string name:string
			pathType:string existingServiceName:string`,
		"sidecar": `name:string cmd:list args:list image:string env:list volumes:list livenessProbe:struct
			readinessProbe:struct`,
		"init-container": `name:string image:string imagePullPolicy:string cmd:list args:list env:list mountName:string
			appMountPath:string initMountPath:string extraVolumeMounts:list`,
		"affinity":        `podAffinity:struct podAntiAffinity:struct nodeAffinity:struct tolerations:list`,
		"service-account": `name:string create:bool privileges:list`,
		"securitycontext": `addCapabilities:list allowPrivilegeEscalation:bool dropCapabilities:list privileged:bool
			readOnlyRootFilesystem:bool runAsNonRoot:bool runAsUser:int runAsGroup:int`,
		"startup-probe": `exec:struct httpGet:struct grpc:struct tcpSocket:struct initialDelaySeconds:int periodSeconds:int
			timeoutSeconds:int successThreshold:int failureThreshold:int terminationGracePeriodSeconds:int`,
		"topologyspreadconstraints": `constraints:list constraints[].maxSkew:int constraints[].topologyKey:string
			constraints[].whenUnsatisfiable:string constraints[].labelSelector:struct constraints[].minDomains:int
			constraints[].matchLabelKeys:list constraints[].nodeAffinityPolicy:string constraints[].nodeTaintsPolicy:string`,
		"json-patch":          `operations:list`,
		"container-image":     `containerName:string image:string imagePullPolicy:string containers:list`,
		"hpa":                 `min:int max:int targetAPIVersion:string targetKind:string cpu:struct mem:struct podCustomMetrics:list`,
		"resource":            `cpu:number memory:string requests:struct limits:struct`,
		"configmap":           `volumes:list volumes[].name:string volumes[].mountPath:string volumes[].readOnly:bool volumes[].data:struct`,
		"volumes":             `volumes:list volumes[].name:string volumes[].type:string volumes[].claimName:string volumes[].cmName:string volumes[].secretName:string volumes[].defaultMode:int volumes[].items:list volumes[].medium:string`,
		"service-binding":     `envMappings:struct`,
		"nocalhost":           `port:int serviceType:string gitUrl:string image:string shell:string workDir:string storageClass:string command:struct debug:struct hotReload:bool sync:struct env:list portForward:list persistentVolumeDirs:list resources:struct`,
		"pvc":                 `claimName:string volumeMode:string volumeName:string accessModes:list storageClassName:string resources:struct dataSourceRef:struct dataSource:struct selector:struct volumesToMount:list`,
		"lifecycle":           `postStart:struct preStop:struct`,
		"hostalias":           `hostAliases:list`,
		"pure-ingress":        `domain:string http:struct`,
		"ingress":             `domain:string http:struct class:string`,
		"ingress-1-20":        `domain:string http:struct class:string`,
		"node-affinity":       `affinity:struct tolerations:struct`,
		"podsecuritycontext":  `appArmorProfile:struct fsGroup:int runAsGroup:int runAsUser:int runAsNonRoot:bool seccompProfile:struct`,
		"container-ports":     `containerName:string ports:list`,
		"env":                 `env:struct containerName:string replace:bool unset:list containers:list`,
		"command":             `command:list args:list addArgs:list delArgs:list containerName:string containers:list`,
		"k8s-update-strategy": `targetAPIVersion:string targetKind:string strategy:struct`,
		"storage":             `pvc:list configMap:list secret:list emptyDir:list hostPath:list`,
	},
	KindPolicy: {
		"topology":        `clusters:list clusterLabelSelector:struct allowEmpty:bool clusterSelector:struct namespace:string`,
		"override":        `components:list selector:list`,
		"garbage-collect": `applicationRevisionLimit:int keepLegacyResource:bool continueOnFailure:bool rules:list order:string`,
		"apply-once":      `enable:bool rules:list`,
		"shared-resource": `rules:list`,
		"take-over":       `rules:list`,
		"read-only":       `rules:list`,
		"replication":     `keys:list selector:list`,
		"resource-update": `rules:list`,
		"env-binding":     `envs:list envs[].name:string envs[].placement:struct envs[].selector:struct envs[].patch:struct`,
		"health":          `probeInterval:int probeTimeout:int`,
	},
	KindWorkflowStep: {
		"deploy":                    `auto:bool policies:list parallelism:int ignoreTerraformComponent:bool`,
		"suspend":                   `duration:string message:string`,
		"apply-object":              `value:struct cluster:string`,
		"read-object":               `apiVersion:string kind:string name:string namespace:string cluster:string`,
		"export2config":             `configName:string namespace:string data:struct cluster:string`,
		"export2secret":             `secretName:string namespace:string type:string data:struct cluster:string dockerRegistry:struct`,
		"request":                   `url:string method:string body:struct header:struct`,
		"depends-on-app":            `name:string namespace:string`,
		"print-message-in-status":   `message:string`,
		"apply-component":           `component:string cluster:string namespace:string`,
		"apply-deployment":          `image:string replicas:int cluster:string cmd:list`,
		"clean-jobs":                `labelselector:struct namespace:string`,
		"vela-cli":                  `addonName:string command:list image:string serviceAccountName:string storage:struct`,
		"build-push-image":          `kanikoExecutor:string context:struct dockerfile:string image:string platform:string buildArgs:list credentials:struct verbosity:string`,
		"create-config":             `name:string namespace:string template:string config:struct`,
		"read-config":               `name:string namespace:string`,
		"list-config":               `template:string namespace:string`,
		"delete-config":             `name:string namespace:string`,
		"export-data":               `name:string namespace:string kind:string data:struct topology:string`,
		"export-service":            `name:string namespace:string ip:string port:int targetPort:int topology:string`,
		"generate-jdbc-connection":  `name:string namespace:string`,
		"apply-terraform-config":    `source:struct deleteResource:bool variable:struct writeConnectionSecretToRef:struct providerRef:struct region:string jobEnv:struct forceDelete:bool`,
		"deploy-cloud-resource":     `policy:string env:string`,
		"share-cloud-resource":      `placements:list policy:string env:string`,
		"deploy2env":                `policy:string env:string parallel:bool`,
		"deploy2runtime":            `clusters:list`,
		"apply-remaining":           `exceptions:list`,
		"collect-service-endpoints": `name:string namespace:string components:list port:int portName:string outer:bool protocal:string`, //nolint:misspell // KubeVela spells the parameter so
		"check-metrics":             `query:string metricEndpoint:string condition:string duration:string failDuration:string`,
		"webhook-notification":      `dingding:struct slack:struct email:struct`,
	},
}

// acceptsKind reports whether a parameter of a Ferry type (as Template.Parameters writes it:
// string, int, bool, [...T], struct, map[K]V, "a" | "b", _) takes a value of a kind.
func acceptsKind(ferryType, kind string) bool {
	for _, alt := range strings.Split(ferryType, " | ") {
		alt = strings.TrimSpace(alt)
		switch {
		case alt == "_" || alt == "any":
			return true
		case strings.HasPrefix(alt, "["):
			if kind == "list" {
				return true
			}
		case alt == "struct" || strings.HasPrefix(alt, "map[") || strings.HasPrefix(alt, "{"):
			if kind == "struct" {
				return true
			}
		case strings.HasPrefix(alt, `"`) || strings.HasPrefix(alt, "string"):
			if kind == "string" {
				return true
			}
		case strings.HasPrefix(alt, "int"):
			if kind == "int" {
				return true
			}
		case strings.HasPrefix(alt, "number") || strings.HasPrefix(alt, "float"):
			if kind == "int" || kind == "number" {
				return true
			}
		case alt == "bool" || alt == "true" || alt == "false":
			if kind == "bool" {
				return true
			}
		}
	}
	return false
}

func TestBuiltinsAcceptKubeVelaParameters(t *testing.T) {
	reg, err := Builtin()
	require.NoError(t, err)
	engine := ferrycue.NewEngine(ferrycue.Options{})
	parameters := func(t *testing.T, kind Kind, name string) map[string]ferrycue.Parameter {
		d, err := reg.Get(kind, name)
		require.NoError(t, err)
		tmpl, err := engine.Compile(d.Source())
		require.NoError(t, err)
		have := map[string]ferrycue.Parameter{}
		for _, p := range tmpl.Parameters() {
			have[p.Name] = p
		}
		return have
	}
	for kind, defs := range kubeVelaParameters {
		for name, params := range defs {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				have := parameters(t, kind, name)
				for _, p := range params {
					_, ok := have[p]
					require.True(t, ok, "%s %q does not declare KubeVela's parameter %q", kind, name, p)
				}
			})
		}
	}
	for kind, defs := range kubeVelaTypes {
		for name, params := range defs {
			t.Run("types/"+string(kind)+"/"+name, func(t *testing.T) {
				have := parameters(t, kind, name)
				for _, field := range strings.Fields(params) {
					param, want, ok := strings.Cut(field, ":")
					require.True(t, ok, field)
					p, ok := have[param]
					if !assert.True(t, ok, "%s %q does not declare KubeVela's parameter %q", kind, name, param) {
						continue
					}
					assert.True(t, acceptsKind(p.Type, want), "%s %q: parameter %q is %s; KubeVela's takes a %s", kind, name, param, p.Type, want)
				}
			})
		}
	}
}
