package v1beta1

// Condition types of an Application. Each is True when that stage is fine; its reason and
// message say what is wrong when it is not.
const (
	// ConditionRendered: the Application parsed and rendered through its definitions.
	ConditionRendered = "Rendered"
	// ConditionApplied: every object the workflow deployed so far was applied; False on a
	// conflict with an object another Application or a person owns.
	ConditionApplied = "Applied"
	// ConditionWorkflowFinished: the workflow of the latest revision has finished.
	ConditionWorkflowFinished = "WorkflowFinished"
	// ConditionHealthy: every deployed component and trait reports healthy.
	ConditionHealthy = "Healthy"
	// ConditionGarbageCollected: objects the latest revision no longer wants are collected.
	ConditionGarbageCollected = "GarbageCollected"
	// ConditionReady: the Application is running and healthy.
	ConditionReady = "Ready"
)

// Reasons of the Application's conditions and events. Tools may match on them: they are part of
// the API. The WorkflowFinished condition's reason is "Workflow" followed by the workflow phase
// (e.g. WorkflowSucceeded), and Ready's is the application phase with a capital (e.g. Running).
const (
	// ReasonRendered (Rendered=True): the Application renders.
	ReasonRendered = "Rendered"
	// ReasonApproved is the event of a suspended step resumed, naming who resumed it.
	ReasonApproved = "Approved"
	// ReasonRenderFailed (Rendered=False, and a Warning event): the message lists every problem.
	ReasonRenderFailed = "RenderFailed"
	// ReasonApplied (Applied=True): every object is applied.
	ReasonApplied = "Applied"
	// ReasonConflict (Applied=False): an object belongs to another Application or a person.
	ReasonConflict = "Conflict"
	// ReasonApplyFailed (Applied=False): the API server refused an object.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonHealthy and ReasonUnhealthy (Healthy).
	ReasonHealthy   = "Healthy"
	ReasonUnhealthy = "Unhealthy"
	// ReasonCollected (GarbageCollected=True): nothing older revisions deployed is left.
	ReasonCollected = "Collected"
	// ReasonCollecting (GarbageCollected=False): deletions are under way.
	ReasonCollecting = "Collecting"
	// ReasonCollectFailed (GarbageCollected=False): a deletion failed; it is retried.
	ReasonCollectFailed = "CollectFailed"
	// ReasonDeleting (GarbageCollected=False): the app is being deleted and waits for its objects.
	ReasonDeleting = "Deleting"
	// ReasonRendering (Ready=False): the app does not render.
	ReasonRendering = "Rendering"
	// ReasonRevision (Normal event): a new ApplicationRevision was created.
	ReasonRevision = "Revision"
	// ReasonIgnoredFields (a Warning event with a new revision): the app sets what Ferry
	// accepts and ignores, such as parameters its definitions do not declare.
	ReasonIgnoredFields = "IgnoredFields"
	// ReasonWorkflowRestarted (Normal event): a new revision starts the workflow again.
	ReasonWorkflowRestarted = "WorkflowRestarted"
	// ReasonWorkflow (event): the workflow finished; the message says how.
	ReasonWorkflow = "Workflow"
	// ReasonCollectForbidden (Warning event): an object the controller may not delete is left
	// in place and untracked, instead of holding the app's deletion.
	ReasonCollectForbidden = "CollectForbidden"
	// ReasonClusterUnavailable (Warning event): a ManifestWork of an unavailable cluster was
	// removed without its agent's cleanup.
	ReasonClusterUnavailable = "ClusterUnavailable"
	// ReasonRollout (Normal event): a deploy step's rollout gives its revision to more clusters.
	ReasonRollout = "Rollout"
	// ReasonRolloutStopped (Warning event): more clusters failed than the rollout's
	// maxFailures allows; no further cluster is changed.
	ReasonRolloutStopped = "RolloutStopped"
	// ReasonRolledBack (Warning event): a stopped rollout returned the clusters it changed to
	// the revision each ran before.
	ReasonRolledBack = "RolledBack"
	// ReasonRollbackFailed (Warning event): a rollback was due but the revision to return to
	// is not kept; the clusters are left as they are.
	ReasonRollbackFailed = "RollbackFailed"
)

// Labels and annotations Ferry sets on the objects it manages besides the app labels.
const (
	// AnnotationSharedBy lists, comma-separated as namespace/name, the Applications that share
	// an object under a shared-resource policy; the first one owns it.
	AnnotationSharedBy = "app.oam.dev/shared-by"
)

// FinalizerCleanup is the finalizer Ferry puts on Applications so that deleting one removes
// exactly what it owns.
const FinalizerCleanup = "app.oam.dev/ferry-cleanup"
