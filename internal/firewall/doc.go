// Package firewall keeps the Azure Firewall's egress rules equal to what the
// deployed resources and the admins declare.
//
// # Ownership
//
// Every rule collection is owned by one resource (a workspace, workspace
// service, user resource or shared service whose template declares rules)
// or by an admin (manual rules). An owner declares a RuleSet in AzureTRE's
// shape (the template properties rule_collections and
// network_rule_collections). Validate checks a declaration the way Azure
// would and stricter, reporting every problem with the collection and rule
// it is in.
//
// # Desired state
//
// Desired turns all owners' declarations into rule collection groups: one
// network and one application group for resources' rules, and one of each
// for manual rules with a higher precedence, all named with a configured
// prefix. Collection names are derived from owner and collection name so
// that owners cannot collide; collections are ordered by owner and name and
// numbered from a base priority. An owner whose declaration is invalid or
// clashes is left out and reported, and nobody else is affected: in
// AzureTRE one bad bundle output (an empty FQDN) failed the shared firewall
// for everyone (#3448). Desired is a pure function, so the same owners give
// the same groups whatever their order, and a reconcile of unchanged
// declarations writes nothing.
//
// # Reconcile
//
// The firewall port (tre.Firewall) reads and writes whole groups of one
// firewall policy: the Azure adapter (package armfirewall) or a JSON file
// for running locally (package firewallfile). Reconciler holds a Lease
// (package lock keeps one in the store: one writer at a time across
// instances, as Azure Firewall takes one update at a time, #1939), reads the
// groups, writes those that differ one at a time, deletes managed groups no
// longer desired (rules left behind after uninstall, #4233), and never
// touches groups without the prefix (core infrastructure, an admin's own).
// Because the whole desired state is written every time, a manual change to
// a managed group is reverted by the next reconcile.
package firewall
