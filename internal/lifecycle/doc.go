// Package lifecycle is the resource lifecycle of the control plane: it
// validates mutations of workspaces, workspace services, user resources
// and shared services against their templates, records each as an
// operation of ordered steps, sends the steps to the Resource Processor one
// at a time, and ingests the processor's status reports.
//
// # Operations and their resource changes
//
// A mutation writes an operation and changes one or more resources
// (several when disabling or deleting cascades to children). Cosmos DB has
// no transaction across documents of different partitions, so the two are
// made consistent by an intent record (see Service.commit): the operation
// is written first, pending, listing the changes it makes; the root
// resource's change is written next, conditional on the etag the request
// was checked against (the commit point); then the other changes, each
// marked with the operation id so that it is never applied twice, and the
// history snapshots, under ids derived from the operation; last the
// operation stops being pending and its first step is sent. Recovery (in
// Sweep) completes or drops what a crash left pending.
//
// # Steps
//
// A step is marked dispatched only after its message was sent; the
// redelivery job (Sweep) sends steps that were not. Duplicate sends
// are harmless: the message id is the step id and ApplyStatus is
// idempotent and monotonic. A pipeline step that changes another resource
// (e.g. the firewall shared service) writes that resource's new properties
// when the step is about to be sent, with the step id on the write, so it
// happens once.
//
// # Firewall steps
//
// An operation of a resource that declares egress has a firewall step,
// which the control plane runs, not the Resource Processor. Lifecycle only
// marks it dispatched in the store and raises a FirewallSignal; the
// firewall service (package egress) runs the due steps and reports on them
// through ApplyStatus, like a processor. The firewall-reconcile timer runs
// due steps too, so one marked just before a crash is not lost.
//
// # Secrets
//
// Properties whose schema says sensitive: true are moved to the secret
// store before anything is written; resources keep "REDACTED" and a
// reference, and request messages carry the references for the processor
// to resolve. Clear values are never stored in the configuration store,
// returned by the API, or logged.
package lifecycle
