// Package upgrade upgrades many resources to a template version at once
// (AzureTRE #4563: "100 workspaces with several services and VMs"), plan
// first.
//
// Plan lists every resource of a template (any of the four kinds, the
// deleted aside), optionally only those at some versions or in some
// workspaces, and says for each whether it would be upgraded, or skipped
// and why: already there, disabled, not deployed, an operation in
// progress, a major upgrade or a downgrade without force, a version not
// registered or deprecated, not allowed by the workspace's catalogue, the
// parent below the version's minimum parent version, or properties the
// target's schema refuses (named). Nothing changes.
//
// Apply stores the plan as a batch (tre.UpgradeBatches) and Advance runs
// it: each upgrade is an ordinary operation (lifecycle's Patch of
// templateVersion, as the batch's creator), parents before their
// children, at most maxConcurrent at once; the batch pauses itself once
// stopAfterFailures upgrades failed since it was last started. Pause,
// Resume and Cancel change it; cancelling stops what has not started
// (running upgrades finish).
//
// The batch document is the whole state, written with its etag: Advance
// refreshes the running items from their operations, then starts what may
// start. An item is marked "starting" before its operation is requested,
// so after a crash Advance finds the operation the request made (by
// resource, action and time) or starts it again: a crash neither loses an
// upgrade nor runs one twice. Advance runs under a lease (one instance at
// a time); Run calls it when signalled (a batch applied or resumed, an
// operation ended) and every Interval, and the upgrade-batches timer calls
// it in Azure.
package upgrade
