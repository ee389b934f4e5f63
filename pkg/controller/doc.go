// Package controller holds Ferry's controller-runtime reconcilers. The Application reconciler
// wires the other packages together and holds no rendering or workflow rules of its own:
//
//  1. render the Application (or the revision its publishVersion pins) with pkg/appfile, from
//     definitions read from the cluster;
//  2. keep an ApplicationRevision per content hash of spec and used definitions;
//  3. run one tick of the revision's workflow (pkg/workflow) with its state in
//     status.workflow and outputs plus a ledger of sent notifications in a context ConfigMap;
//  4. record every object in the revision's ResourceTracker, then apply it to the hub with
//     server-side apply (pkg/dispatch), never touching what another app or a person owns;
//  5. re-apply drifted objects of finished steps, evaluate health into status.services;
//  6. once the latest workflow succeeded, collect what older revisions deployed and the latest
//     does not want; on deletion, remove exactly what the trackers say the app owns.
package controller
