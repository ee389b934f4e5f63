// Package identity says whom an Application acts as and gives clients that act as them.
//
// The admission webhook records an Application's writer in its annotations (KubeVela's
// app.oam.dev/username and app.oam.dev/group), or the app names a ServiceAccount of its
// namespace (app.oam.dev/service-account-name) its writer may impersonate. Of reads that back
// as an Identity; Clients builds, once per identity, a client whose requests the API server
// authorizes as that identity (Kubernetes impersonation), so RBAC decides what an app may do.
// WithReader and ReaderFrom carry an identity's reader through the planner, which is shared by
// the controller and the webhook, to the sources that read objects while rendering.
package identity
