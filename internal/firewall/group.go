package firewall

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// RuleCollectionGroup is one Azure Firewall Policy rule collection group:
// the unit a Backend reads and writes whole (an ARM PUT replaces the group).
type RuleCollectionGroup struct {
	Name        string           `json:"name"`
	Priority    int32            `json:"priority"`
	Collections []RuleCollection `json:"collections"`
	// ProvisioningState is set by a backend that read a group Azure has
	// not settled as succeeded (Failed after a bad update, AzureTRE #3448,
	// or Updating). Such a group never compares equal to a desired one, so
	// a reconcile writes it again. Backends ignore it on Put.
	ProvisioningState string `json:"provisioning_state,omitempty"`
}

// Action is a filter rule collection's action.
type Action string

// ActionAllow is the only action TRE writes: egress is denied by default and
// rules open it.
const ActionAllow Action = "Allow"

// RuleCollection is a filter rule collection: a name, a priority within its
// group, an action and rules of one kind (application or network; Azure
// does not mix them in one collection).
type RuleCollection struct {
	Name             string            `json:"name"`
	Priority         int32             `json:"priority"`
	Action           Action            `json:"action"`
	ApplicationRules []ApplicationRule `json:"application_rules,omitempty"`
	NetworkRules     []NetworkRule     `json:"network_rules,omitempty"`
	// Unsupported is set by a backend that read something this model cannot
	// hold (a NAT collection, a rule with target URLs or TLS inspection), so
	// that such a collection never compares equal to a desired one and a
	// reconcile replaces it. Its text says what was found.
	Unsupported string `json:"unsupported,omitempty"`

	// Owner and OwnerCollection say who declared the collection and under
	// which name, so that an API can show a per-owner view (ByOwner). They
	// are not part of Azure's state: Equal ignores them and the Azure
	// backend neither writes nor reads them.
	Owner           Owner  `json:"owner,omitzero"`
	OwnerCollection string `json:"owner_collection,omitempty"`
}

// Equal reports whether g and o configure Azure Firewall the same way, so
// that a reconcile can skip a write when Azure already matches. It compares
// names without regard to case (Azure's names are case-insensitive), the
// collections of a group and the rules of a collection as sets keyed by
// name (their order carries no meaning: priorities order collections, and
// rules of one Allow collection all lead to the same verdict), and every
// list in a rule as a set. Owner labels are ignored.
func (g RuleCollectionGroup) Equal(o RuleCollectionGroup) bool {
	return reflect.DeepEqual(canonicalGroup(g), canonicalGroup(o))
}

// Clone returns a deep copy of g.
func (g RuleCollectionGroup) Clone() RuleCollectionGroup {
	out := g
	if g.Collections != nil {
		out.Collections = make([]RuleCollection, len(g.Collections))
		for i, c := range g.Collections {
			c.ApplicationRules = cloneApplicationRules(c.ApplicationRules)
			c.NetworkRules = cloneNetworkRules(c.NetworkRules)
			out.Collections[i] = c
		}
	}
	return out
}

// CloneGroups returns a deep copy of groups.
func CloneGroups(groups []RuleCollectionGroup) []RuleCollectionGroup {
	if groups == nil {
		return nil
	}
	out := make([]RuleCollectionGroup, len(groups))
	for i, g := range groups {
		out[i] = g.Clone()
	}
	return out
}

// CheckGroup checks what every Backend requires before writing a group, so
// that the local and the Azure backends refuse the same groups: Azure's
// names and priority range, unique collection names, and collections of one
// rule kind that the model can write. Rules themselves are checked by
// Validate, before they get into a group. Returns CodeInvalid.
func CheckGroup(g RuleCollectionGroup) error {
	var v validator
	field := fmt.Sprintf("group %q", g.Name)
	v.name(field, g.Name, 1)
	if g.Priority < MinPriority || g.Priority > MaxPriority {
		v.add(field, "priority %d is outside %d to %d", g.Priority, MinPriority, MaxPriority)
	}
	seen := map[string]int{}
	for i, c := range g.Collections {
		cf := fmt.Sprintf("%s.collections[%d] %q", field, i, c.Name)
		v.collectionName(cf, c.Name, "collections", seen, i)
		if c.Priority < MinPriority || c.Priority > MaxPriority {
			v.add(cf, "priority %d is outside %d to %d", c.Priority, MinPriority, MaxPriority)
		}
		if c.Action != ActionAllow {
			v.add(cf, "action %q: TRE writes only %s collections", c.Action, ActionAllow)
		}
		if len(c.ApplicationRules) > 0 && len(c.NetworkRules) > 0 {
			v.add(cf, "has both application and network rules: Azure takes one kind per collection")
		}
		if c.Unsupported != "" {
			v.add(cf, "cannot be written: %s", c.Unsupported)
		}
	}
	return tre.InvalidFields("invalid rule collection group", v.problems)
}

// canonicalGroup returns g in a form where two groups that configure Azure
// the same way are deeply equal.
func canonicalGroup(g RuleCollectionGroup) RuleCollectionGroup {
	out := RuleCollectionGroup{Name: strings.ToLower(g.Name), Priority: g.Priority, ProvisioningState: g.ProvisioningState}
	for _, c := range g.Collections {
		cc := RuleCollection{
			Name:        strings.ToLower(c.Name),
			Priority:    c.Priority,
			Action:      Action(strings.ToLower(string(c.Action))),
			Unsupported: c.Unsupported,
		}
		for _, r := range c.ApplicationRules {
			cc.ApplicationRules = append(cc.ApplicationRules, ApplicationRule{
				Name:             strings.ToLower(r.Name),
				Description:      r.Description,
				Protocols:        canonicalProtocols(r.Protocols),
				FQDNTags:         canonicalSet(r.FQDNTags),
				TargetFQDNs:      canonicalSet(r.TargetFQDNs),
				SourceAddresses:  canonicalSet(r.SourceAddresses),
				SourceIPGroupIDs: canonicalSet(r.SourceIPGroupIDs),
			})
		}
		slices.SortStableFunc(cc.ApplicationRules, func(a, b ApplicationRule) int { return cmp.Compare(a.Name, b.Name) })
		for _, r := range c.NetworkRules {
			cc.NetworkRules = append(cc.NetworkRules, NetworkRule{
				Name:                  strings.ToLower(r.Name),
				Description:           r.Description,
				SourceAddresses:       canonicalSet(r.SourceAddresses),
				SourceIPGroupIDs:      canonicalSet(r.SourceIPGroupIDs),
				DestinationAddresses:  canonicalSet(r.DestinationAddresses),
				DestinationIPGroupIDs: canonicalSet(r.DestinationIPGroupIDs),
				DestinationFQDNs:      canonicalSet(r.DestinationFQDNs),
				DestinationPorts:      canonicalSet(r.DestinationPorts),
				Protocols:             canonicalSet(r.Protocols),
			})
		}
		slices.SortStableFunc(cc.NetworkRules, func(a, b NetworkRule) int { return cmp.Compare(a.Name, b.Name) })
		out.Collections = append(out.Collections, cc)
	}
	slices.SortStableFunc(out.Collections, func(a, b RuleCollection) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// canonicalSet lower-cases (addresses, FQDNs, tags, resource ids and enum
// values are all case-insensitive in Azure), sorts and de-duplicates s;
// empty becomes nil.
func canonicalSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func canonicalProtocols(ps []Protocol) []Protocol {
	if len(ps) == 0 {
		return nil
	}
	out := make([]Protocol, len(ps))
	for i, p := range ps {
		port := p.Port
		// Azure stores the port as a number: "0443" and "443" are one port.
		if n, err := strconv.Atoi(port); err == nil {
			port = strconv.Itoa(n)
		}
		out[i] = Protocol{Type: strings.ToLower(p.Type), Port: port}
	}
	slices.SortFunc(out, func(a, b Protocol) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Port, b.Port))
	})
	return slices.Compact(out)
}
