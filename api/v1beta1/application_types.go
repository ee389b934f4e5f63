package v1beta1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Well-known labels and annotations of the OAM schema.
const (
	// LabelAppName names the Application that owns a dispatched object.
	LabelAppName = "app.oam.dev/name"
	// LabelAppNamespace is the namespace of the Application that owns a dispatched object.
	LabelAppNamespace = "app.oam.dev/namespace"
	// LabelAppComponent names the component a dispatched object was rendered from.
	LabelAppComponent = "app.oam.dev/component"
	// LabelWorkloadType is the component type of a dispatched workload.
	LabelWorkloadType = "workload.oam.dev/type"
	// LabelTraitType is the trait type that rendered a dispatched object.
	LabelTraitType = "trait.oam.dev/type"
	// LabelShardID names the controller shard an Application belongs to, e.g. shard-0.
	LabelShardID = "controller.core.oam.dev/shard-id"
	// LabelTraitResource is the output name of a trait's object.
	LabelTraitResource = "trait.oam.dev/resource"
	// AnnotationAppRevision names, on a ManifestWork, the ApplicationRevision whose objects it
	// holds (KubeVela's key for the same fact): which revision runs on which cluster.
	AnnotationAppRevision = "app.oam.dev/appRevision"
	// AnnotationRollbackTo, set by `ferry workflow rollback` with the spec of the revision it
	// names, makes the new revision deliver that revision's rendered objects as they were,
	// whatever the definitions say now. It is honoured only while the spec is that revision's.
	AnnotationRollbackTo = "app.oam.dev/rollback-to"
	// AnnotationRenderedFrom, on an ApplicationRevision, names the revision whose rendered
	// objects it delivers (a rollback).
	AnnotationRenderedFrom = "app.oam.dev/rendered-from"
	// AnnotationPublishVersion freezes a workflow run to a published version.
	AnnotationPublishVersion = "app.oam.dev/publishVersion"
	// AnnotationRestartWorkflow schedules a finished workflow to run again, as KubeVela's
	// restart-workflow step sets it: at an RFC 3339 time, or every duration (5m, 1h, 2d) after
	// each run ends.
	AnnotationRestartWorkflow = "app.oam.dev/restart-workflow"
	// AnnotationPause pauses reconciliation of an Application when "true".
	AnnotationPause = "controller.core.oam.dev/pause"
	// AnnotationUsername records, at admission, the user who created the Application or last
	// changed its spec (KubeVela's key). The controller acts on the hub as this user.
	AnnotationUsername = "app.oam.dev/username"
	// AnnotationGroup records that user's groups, comma-separated (KubeVela's key).
	AnnotationGroup = "app.oam.dev/group"
	// AnnotationServiceAccountName names a ServiceAccount in the Application's namespace to act
	// as instead of its writer (KubeVela's key); the writer must be allowed to impersonate it.
	AnnotationServiceAccountName = "app.oam.dev/service-account-name"
)

// Application is the one object an application team writes: its components, each with a type
// and traits, the policies that choose where and how they are delivered, and the workflow that
// delivers them.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=app;apps,categories=oam
// +kubebuilder:printcolumn:name="COMPONENT",type=string,JSONPath=`.spec.components[*].name`
// +kubebuilder:printcolumn:name="TYPE",type=string,JSONPath=`.spec.components[*].type`
// +kubebuilder:printcolumn:name="PHASE",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="HEALTHY",type=boolean,JSONPath=`.status.services[*].healthy`
// +kubebuilder:printcolumn:name="STATUS",type=string,JSONPath=`.status.services[*].message`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApplicationSpec   `json:"spec,omitempty"`
	Status ApplicationStatus `json:"status,omitempty"`
}

// ApplicationSpec is what an application team asks for.
type ApplicationSpec struct {
	// Components to deliver, each rendered through its ComponentDefinition. An Application
	// may have none and only run its workflow, as in KubeVela.
	// +optional
	// +listType=map
	// +listMapKey=name
	Components []ApplicationComponent `json:"components,omitempty"`

	// Policies choose targets (topology), vary properties (override) and control delivery.
	// +optional
	// +listType=atomic
	Policies []AppPolicy `json:"policies,omitempty"`

	// Workflow delivers the components. Without it, every component is deployed to the targets
	// of all topology policies (or to the hub) in one step.
	// +optional
	Workflow *Workflow `json:"workflow,omitempty"`
}

// ApplicationComponent is one component of an Application.
type ApplicationComponent struct {
	// Name of the component, unique in the Application.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Type names the ComponentDefinition that renders this component.
	// +kubebuilder:validation:MinLength=1
	Type string `json:"type"`

	// ExternalRevision names the component revision explicitly. Accepted for KubeVela
	// compatibility and ignored: Ferry keeps no component revisions; planning warns when set.
	// +optional
	ExternalRevision string `json:"externalRevision,omitempty"`

	// Properties are the parameters of the ComponentDefinition.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Properties *runtime.RawExtension `json:"properties,omitempty"`

	// DependsOn names components that must be delivered first.
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`

	// Inputs take values from outputs of earlier components or steps.
	// +optional
	Inputs []StepInput `json:"inputs,omitempty"`

	// Outputs export values of this component to later components or steps.
	// +optional
	Outputs []StepOutput `json:"outputs,omitempty"`

	// Traits attached to the component, applied in order.
	// +optional
	Traits []ApplicationTrait `json:"traits,omitempty"`

	// Scopes is kept for compatibility with older OAM Applications; Ferry ignores it.
	// +optional
	Scopes map[string]string `json:"scopes,omitempty"`
}

// ApplicationTrait attaches a TraitDefinition to a component.
type ApplicationTrait struct {
	// Type names the TraitDefinition.
	// +kubebuilder:validation:MinLength=1
	Type string `json:"type"`

	// Properties are the parameters of the TraitDefinition.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Properties *runtime.RawExtension `json:"properties,omitempty"`
}

// AppPolicy is one policy of an Application.
type AppPolicy struct {
	// Name of the policy, referenced by workflow steps. A policy without a name (KubeVela
	// allows it) cannot be referenced; it still applies to the whole Application, and a
	// topology or override policy to the default workflow's deploy step.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// Type names the PolicyDefinition.
	// +kubebuilder:validation:MinLength=1
	Type string `json:"type"`

	// Properties are the parameters of the PolicyDefinition.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Properties *runtime.RawExtension `json:"properties,omitempty"`
}

// StepInput takes a value from an earlier output.
type StepInput struct {
	// From names the output to read.
	// +kubebuilder:validation:MinLength=1
	From string `json:"from"`

	// ParameterKey is the path in the properties that receives the value.
	// +optional
	ParameterKey string `json:"parameterKey,omitempty"`
}

// StepOutput exports a value for later steps.
type StepOutput struct {
	// Name of the output.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// ValueFrom is a CUE expression over the step's result.
	// +kubebuilder:validation:MinLength=1
	ValueFrom string `json:"valueFrom"`
}

// WorkflowMode is the execution mode of steps or sub-steps.
// +kubebuilder:validation:Enum=DAG;StepByStep
type WorkflowMode string

// Workflow modes.
const (
	WorkflowModeDAG        WorkflowMode = "DAG"
	WorkflowModeStepByStep WorkflowMode = "StepByStep"
)

// Workflow is the sequence of steps that delivers an Application.
type Workflow struct {
	// Ref names a Workflow object whose steps are used instead of Steps.
	// +optional
	Ref string `json:"ref,omitempty"`

	// Mode of steps and sub-steps; StepByStep by default.
	// +optional
	Mode *WorkflowExecuteMode `json:"mode,omitempty"`

	// Steps of the workflow.
	// +optional
	Steps []WorkflowStep `json:"steps,omitempty"`
}

// WorkflowExecuteMode sets the execution mode of steps and of sub-steps separately.
type WorkflowExecuteMode struct {
	// Steps is the mode of top-level steps.
	// +optional
	Steps WorkflowMode `json:"steps,omitempty"`

	// SubSteps is the mode of the sub-steps of a step group.
	// +optional
	SubSteps WorkflowMode `json:"subSteps,omitempty"`
}

// WorkflowStepMeta holds display metadata of a step.
type WorkflowStepMeta struct {
	// Alias is a display name for the step.
	// +optional
	Alias string `json:"alias,omitempty"`
}

// WorkflowStepBase is what every step, top-level or sub-step, has.
type WorkflowStepBase struct {
	// Name of the step, unique in the workflow.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Type names the WorkflowStepDefinition (deploy, suspend, step-group, ...).
	// +kubebuilder:validation:MinLength=1
	Type string `json:"type"`

	// Meta holds display metadata.
	// +optional
	Meta *WorkflowStepMeta `json:"meta,omitempty"`

	// If is a condition over status.<step>.phase, inputs.* and context.*, or "always".
	// +optional
	If string `json:"if,omitempty"`

	// Timeout of the step, as a Go duration (e.g. 10m).
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	Timeout string `json:"timeout,omitempty"`

	// DependsOn names steps that must finish first.
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`

	// Inputs take values from outputs of earlier steps.
	// +optional
	Inputs []StepInput `json:"inputs,omitempty"`

	// Outputs export values of this step.
	// +optional
	Outputs []StepOutput `json:"outputs,omitempty"`

	// Properties are the parameters of the WorkflowStepDefinition.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Properties *runtime.RawExtension `json:"properties,omitempty"`

	// Retries re-run a failed step before the workflow fails (Ferry extension).
	// +optional
	Retries *StepRetries `json:"retries,omitempty"`
}

// StepRetries say how often and how soon a failed step is tried again.
type StepRetries struct {
	// Limit is how many times a failed step is retried.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Limit int32 `json:"limit"`

	// Backoff is the wait before the first retry, doubled for each further one (Go duration).
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	Backoff string `json:"backoff,omitempty"`
}

// WorkflowStep is a top-level step; a step of type step-group has sub-steps.
type WorkflowStep struct {
	WorkflowStepBase `json:",inline"`

	// SubSteps of a step group.
	// +optional
	SubSteps []WorkflowStepBase `json:"subSteps,omitempty"`
}

// ApplicationPhase is the lifecycle phase of an Application.
// +kubebuilder:validation:Enum=starting;rendering;generatingPolicy;runningWorkflow;workflowSuspending;workflowTerminated;workflowFailed;running;unhealthy;deleting
type ApplicationPhase string

// Application phases.
const (
	ApplicationStarting           ApplicationPhase = "starting"
	ApplicationRendering          ApplicationPhase = "rendering"
	ApplicationPolicyGenerating   ApplicationPhase = "generatingPolicy"
	ApplicationRunningWorkflow    ApplicationPhase = "runningWorkflow"
	ApplicationWorkflowSuspending ApplicationPhase = "workflowSuspending"
	ApplicationWorkflowTerminated ApplicationPhase = "workflowTerminated"
	ApplicationWorkflowFailed     ApplicationPhase = "workflowFailed"
	ApplicationRunning            ApplicationPhase = "running"
	ApplicationUnhealthy          ApplicationPhase = "unhealthy"
	ApplicationDeleting           ApplicationPhase = "deleting"
)

// ApplicationStatus is what the controller observed.
type ApplicationStatus struct {
	// Phase of the Application.
	// +optional
	Phase ApplicationPhase `json:"status,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions of the Application.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Services is the health of each component on each target.
	// +optional
	Services []ApplicationComponentStatus `json:"services,omitempty"`

	// Workflow is the state of the workflow run.
	// +optional
	Workflow *WorkflowStatus `json:"workflow,omitempty"`

	// LatestRevision is the ApplicationRevision in use.
	// +optional
	LatestRevision *Revision `json:"latestRevision,omitempty"`
}

// ApplicationComponentStatus is the health of one component on one target.
type ApplicationComponentStatus struct {
	// Name of the component.
	Name string `json:"name"`
	// Namespace the component was delivered to.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Cluster the component was delivered to; "local" is the hub.
	// +optional
	Cluster string `json:"cluster,omitempty"`
	// Healthy is the result of the definition's healthPolicy on the live objects (or, on a managed
	// cluster, on what its ManifestWork feeds back).
	// +optional
	Healthy bool `json:"healthy"`
	// Message is the definition's customStatus message, or why health is unknown.
	// +optional
	Message string `json:"message,omitempty"`
	// Details are the definition's status details, for display.
	// +optional
	Details map[string]string `json:"details,omitempty"`
	// Traits is the health of each trait that reports one.
	// +optional
	Traits []ApplicationTraitStatus `json:"traits,omitempty"`
}

// ApplicationTraitStatus is the health of one trait of a component.
type ApplicationTraitStatus struct {
	// Type is the trait type.
	Type string `json:"type"`
	// Healthy is the result of the trait definition's healthPolicy.
	// +optional
	Healthy bool `json:"healthy"`
	// Message is the trait definition's customStatus message.
	// +optional
	Message string `json:"message,omitempty"`
	// Details are the trait definition's status details.
	// +optional
	Details map[string]string `json:"details,omitempty"`
}

// WorkflowStatus is the state of a workflow run.
type WorkflowStatus struct {
	// AppRevision is the ApplicationRevision this workflow run delivers.
	// +optional
	AppRevision string `json:"appRevision,omitempty"`
	// Mode is how the top-level steps run: StepByStep or DAG.
	// +optional
	Mode string `json:"mode,omitempty"`
	// Phase of the run: initializing, executing, suspending, terminated, failed or succeeded.
	// +optional
	Phase string `json:"status,omitempty"`
	// Message says why the run is in its phase, e.g. which step failed.
	// +optional
	Message string `json:"message,omitempty"`
	// Suspend is true while the run waits for a resume (a suspend step or ferry workflow suspend).
	// +optional
	Suspend bool `json:"suspend"`
	// Terminated is true once the run was terminated; nothing more runs until a new revision.
	// +optional
	Terminated bool `json:"terminated"`
	// Finished is true once the run ended: succeeded, failed or terminated.
	// +optional
	Finished bool `json:"finished"`
	// StartTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// EndTime is when the run finished.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
	// Steps is the state of each top-level step, with its sub-steps.
	// +optional
	Steps []WorkflowStepStatus `json:"steps,omitempty"`
	// Run counts restarts of the workflow; execution ids include it.
	// +optional
	Run int `json:"run,omitempty"`
	// ManualSuspend is set by `ferry workflow suspend` and cleared by resume.
	// +optional
	ManualSuspend bool `json:"manualSuspend,omitempty"`
}

// StepStatus is the state of one step.
type StepStatus struct {
	// ID is the step's current execution id.
	// +optional
	ID string `json:"id,omitempty"`
	// Name of the step.
	Name string `json:"name"`
	// Type of the step, e.g. deploy or suspend.
	// +optional
	Type string `json:"type,omitempty"`
	// Phase of the step: pending, running, suspending, succeeded, failed, skipped or stopped.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Message says what the step is doing or why it ended as it did.
	// +optional
	Message string `json:"message,omitempty"`
	// Reason is a one-word cause of the phase, e.g. Waiting, Timeout, Retrying.
	// +optional
	Reason string `json:"reason,omitempty"`
	// FirstExecuteTime is when the step first ran.
	// +optional
	FirstExecuteTime *metav1.Time `json:"firstExecuteTime,omitempty"`
	// LastExecuteTime is when the step last ran.
	// +optional
	LastExecuteTime *metav1.Time `json:"lastExecuteTime,omitempty"`
	// Attempts counts failed executions that were retried.
	// +optional
	Attempts int `json:"attempts,omitempty"`
	// Waits counts checks of a waiting step; the backoff grows with it.
	// +optional
	Waits int `json:"waits,omitempty"`
	// NextTime is when a waiting or retrying step runs again.
	// +optional
	NextTime *metav1.Time `json:"nextTime,omitempty"`
	// ResumeTime is when a suspend with a duration resumes by itself.
	// +optional
	ResumeTime *metav1.Time `json:"resumeTime,omitempty"`
	// Resumed is set once a step that asked to suspend has been resumed.
	// +optional
	Resumed bool `json:"resumed,omitempty"`
	// ResumedTime is when a suspended step was resumed; its timeout counts from then.
	// +optional
	ResumedTime *metav1.Time `json:"resumedTime,omitempty"`
	// ResumedBy is who resumed (approved) the step: the user name the API server knows them
	// by. The admission webhook refuses a resume that names anyone but the requester.
	// +optional
	ResumedBy string `json:"resumedBy,omitempty"`
	// Progress is what a gated or progressive deploy step has found so far: how long its
	// targets have been healthy, and where each cluster is in its rollout.
	// +optional
	Progress *StepProgress `json:"progress,omitempty"`
}

// StepProgress is what a deploy step with healthyFor or a rolloutStrategy keeps between
// checks, so that a restarted controller continues where the last one stopped.
type StepProgress struct {
	// HealthySince is when every target of the step last became healthy; healthyFor counts
	// from it, and a flap clears it.
	// +optional
	HealthySince *metav1.Time `json:"healthySince,omitempty"`
	// Rollout is each cluster's state in the step's rollout strategy, in decision order.
	// +optional
	Rollout []ClusterRollout `json:"rollout,omitempty"`
	// RolledBack says what a rollback on failure returned to which revision.
	// +optional
	RolledBack string `json:"rolledBack,omitempty"`
	// Metric is a check-metrics step's last reading.
	// +optional
	Metric *MetricReading `json:"metric,omitempty"`
}

// MetricReading is the last value a metric check read, and whether it met its condition.
type MetricReading struct {
	// Query is the Prometheus query.
	Query string `json:"query"`
	// Value is the number it gave.
	Value string `json:"value"`
	// Condition is what the number must meet, e.g. >=0.95.
	Condition string `json:"condition"`
	// Met says whether it met the condition.
	Met bool `json:"met"`
	// Since is when the condition last started to hold (met) or to fail.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// ClusterRollout is one cluster's state in a deploy step's rollout.
type ClusterRollout struct {
	// Cluster is the managed cluster.
	Cluster string `json:"cluster"`
	// Group is its decision group: the topology policy that chose it.
	// +optional
	Group string `json:"group,omitempty"`
	// Phase is Pending (it keeps what it had), Progressing, Succeeded, Failed or RolledBack.
	Phase string `json:"phase"`
	// Started is when it was given the step's revision.
	// +optional
	Started *metav1.Time `json:"started,omitempty"`
	// HealthySince is when its components last became healthy; minSuccessTime counts from it.
	// +optional
	HealthySince *metav1.Time `json:"healthySince,omitempty"`
	// Finished is when it succeeded, failed or was rolled back.
	// +optional
	Finished *metav1.Time `json:"finished,omitempty"`
	// Message says what it waits for, or why it failed.
	// +optional
	Message string `json:"message,omitempty"`
	// From is the revision it ran before the step changed it; empty when it had none.
	// +optional
	From string `json:"from,omitempty"`
}

// WorkflowStepStatus is the state of a top-level step and its sub-steps.
type WorkflowStepStatus struct {
	StepStatus `json:",inline"`
	// SubStepsStatus is the state of each sub-step of a step group.
	// +optional
	SubStepsStatus []StepStatus `json:"subSteps,omitempty"`
}

// Revision identifies an ApplicationRevision.
type Revision struct {
	// Name of the ApplicationRevision, e.g. shop-v3.
	Name string `json:"name"`
	// Revision is its number, counted from 1.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// RevisionHash is the hash of the spec and of the definitions it used.
	// +optional
	RevisionHash string `json:"revisionHash,omitempty"`
}

// +kubebuilder:object:root=true

// ApplicationList is a list of Applications.
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Application{}, &ApplicationList{})
}

// PolicyKey names the i-th policy of an Application: its name, or "policies[i]" for a policy
// without one, which no step can reference (a policy name cannot contain brackets).
func PolicyKey(i int, p AppPolicy) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprintf("policies[%d]", i)
}
