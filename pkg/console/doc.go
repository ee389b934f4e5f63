// Package console is Ferry's web console: applications with their workflow graph, component
// × cluster health, resources, revisions and events; managed clusters; definitions; addons;
// and the workflow actions (approve, suspend, terminate, restart, rollback).
//
// Every read and every action goes to the API server with the identity the console was
// given (the caller's kubeconfig for `ferry ui`), so Kubernetes RBAC decides what a user
// sees and does: the console never shows or does more than kubectl would. Action buttons a
// user may not use are hidden (SelfSubjectAccessReview) and refused server-side all the same.
//
// Pages are Go html/template (every user-controlled string escaped) with one embedded
// stylesheet and one embedded script, served under a strict Content-Security-Policy with no
// inline script or style. Live updates come from a watch on the API server, relayed as
// server-sent events; the page then fetches the part that changed. A session is a random
// token: `ferry ui` prints a URL carrying it, the first request trades it for an HttpOnly,
// SameSite=Strict cookie, and every action must also carry the session's CSRF token.
package console
