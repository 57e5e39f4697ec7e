package firewall

import "context"

// Backend reads and writes the rule collection groups of one firewall
// policy. Implementations: FileBackend (a JSON file, for running locally)
// and armfirewall.Backend (Azure Firewall Policy). Every implementation
// passes the conformance suite in internal/firewall/firewalltest, never
// keeps the caller's slices, and treats group names without regard to case,
// as Azure does.
//
// A Backend does not serialise writers itself: Reconciler holds a Lease
// around its writes, because Azure Firewall takes one policy update at a
// time (AzureTRE #1939).
type Backend interface {
	// Groups returns every group of the policy, including the ones the
	// firewall service does not manage. Returns CodeUnavailable when the
	// backend cannot be reached.
	Groups(ctx context.Context) ([]RuleCollectionGroup, error)
	// Put creates or replaces the group with g's name, whole. Returns
	// CodeInvalid for a group CheckGroup refuses, CodeUnavailable.
	Put(ctx context.Context, g RuleCollectionGroup) error
	// Delete removes the group; deleting a group that does not exist
	// succeeds. Returns CodeUnavailable.
	Delete(ctx context.Context, name string) error
}
