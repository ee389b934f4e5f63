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

// Labels and annotations Ferry sets on the objects it manages besides the app labels.
const (
	// LabelAppRevision names the revision that last applied an object.
	LabelAppRevision = "app.oam.dev/appRevision"
	// AnnotationSharedBy lists, comma-separated as namespace/name, the Applications that share
	// an object under a shared-resource policy; the first one owns it.
	AnnotationSharedBy = "app.oam.dev/shared-by"
	// LabelAppUID marks trackers and revisions with the UID of the app they belong to.
	LabelAppUID = "app.oam.dev/uid"
)

// FinalizerCleanup is the finalizer Ferry puts on Applications so that deleting one removes
// exactly what it owns.
const FinalizerCleanup = "app.oam.dev/ferry-cleanup"
