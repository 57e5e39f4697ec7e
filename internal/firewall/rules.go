package firewall

import "github.com/tre-go/tre/internal/tre"

// RuleSet is what one owner declares: AzureTRE's two template properties,
// with their wire names.
type RuleSet struct {
	// ApplicationRuleCollections are AzureTRE's "rule_collections"
	// (application, FQDN-based rules).
	ApplicationRuleCollections []ApplicationRuleCollection `json:"rule_collections,omitempty"`
	NetworkRuleCollections     []NetworkRuleCollection     `json:"network_rule_collections,omitempty"`
}

// ApplicationRuleCollection is a named list of application rules.
type ApplicationRuleCollection struct {
	Name string `json:"name"`
	// Action is AzureTRE's deprecated field: accepted (Allow or Deny) for
	// compatibility with existing bundles and ignored, because TRE rules
	// always allow, as in AzureTRE.
	Action string `json:"action,omitempty"`
	// Priority is accepted from AzureTRE's firewall shared service and
	// ignored, as AzureTRE's firewall bundle ignores it: collections are
	// numbered in order.
	Priority int                   `json:"priority,omitempty"`
	Rules    []tre.ApplicationRule `json:"rules"`
}

// NetworkRuleCollection is a named list of network rules.
type NetworkRuleCollection struct {
	Name string `json:"name"`
	// Action is AzureTRE's deprecated field, accepted and ignored as in
	// ApplicationRuleCollection.
	Action string `json:"action,omitempty"`
	// Priority is accepted and ignored, as in ApplicationRuleCollection.
	Priority int               `json:"priority,omitempty"`
	Rules    []tre.NetworkRule `json:"rules"`
}

// Owned is one owner's declared rules.
type Owned struct {
	Owner tre.RuleOwner `json:"owner"`
	Rules RuleSet       `json:"rules"`
}

// Clone returns a deep copy of rs, so that no caller's slices are kept.
func (rs RuleSet) Clone() RuleSet {
	var out RuleSet
	if rs.ApplicationRuleCollections != nil {
		out.ApplicationRuleCollections = make([]ApplicationRuleCollection, len(rs.ApplicationRuleCollections))
		for i, c := range rs.ApplicationRuleCollections {
			c.Rules = tre.CloneApplicationRules(c.Rules)
			out.ApplicationRuleCollections[i] = c
		}
	}
	if rs.NetworkRuleCollections != nil {
		out.NetworkRuleCollections = make([]NetworkRuleCollection, len(rs.NetworkRuleCollections))
		for i, c := range rs.NetworkRuleCollections {
			c.Rules = tre.CloneNetworkRules(c.Rules)
			out.NetworkRuleCollections[i] = c
		}
	}
	return out
}
