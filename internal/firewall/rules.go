package firewall

import (
	"encoding/json"
	"fmt"
	"strconv"
)

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
	Action string            `json:"action,omitempty"`
	Rules  []ApplicationRule `json:"rules"`
}

// ApplicationRule allows HTTP(S)/MSSQL traffic from sources to FQDNs or
// FQDN tags.
type ApplicationRule struct {
	Name             string     `json:"name"`
	Description      string     `json:"description,omitempty"`
	Protocols        []Protocol `json:"protocols,omitempty"`
	FQDNTags         []string   `json:"fqdn_tags,omitempty"`
	TargetFQDNs      []string   `json:"target_fqdns,omitempty"`
	SourceAddresses  []string   `json:"source_addresses,omitempty"`
	SourceIPGroupIDs []string   `json:"source_ip_group_ids,omitempty"`
}

// Protocol is an application rule's protocol and port.
type Protocol struct {
	// Port is a decimal port number; AzureTRE's schema has it as a string.
	Port string `json:"port"`
	// Type is Http, Https or Mssql.
	Type string `json:"type"`
}

// UnmarshalJSON accepts the port as a string (AzureTRE's schema) or as a
// number (what Terraform and hand-written JSON often carry), so that a
// bundle's output is not rejected for its quoting.
func (p *Protocol) UnmarshalJSON(data []byte) error {
	var raw struct {
		Port json.RawMessage `json:"port"`
		Type string          `json:"type"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	p.Type = raw.Type
	p.Port = ""
	if len(raw.Port) == 0 || string(raw.Port) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw.Port, &p.Port); err == nil {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(raw.Port, &n); err != nil {
		return fmt.Errorf("protocol port: want a string or a number, got %s", raw.Port)
	}
	if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
		return fmt.Errorf("protocol port: %s is not an integer", n)
	}
	p.Port = n.String()
	return nil
}

// NetworkRuleCollection is a named list of network rules.
type NetworkRuleCollection struct {
	Name string `json:"name"`
	// Action is AzureTRE's deprecated field, accepted and ignored as in
	// ApplicationRuleCollection.
	Action string        `json:"action,omitempty"`
	Rules  []NetworkRule `json:"rules"`
}

// NetworkRule allows IP traffic from sources to destinations on ports.
type NetworkRule struct {
	Name                  string   `json:"name"`
	Description           string   `json:"description,omitempty"`
	SourceAddresses       []string `json:"source_addresses,omitempty"`
	SourceIPGroupIDs      []string `json:"source_ip_group_ids,omitempty"`
	DestinationAddresses  []string `json:"destination_addresses,omitempty"`
	DestinationIPGroupIDs []string `json:"destination_ip_group_ids,omitempty"`
	DestinationFQDNs      []string `json:"destination_fqdns,omitempty"`
	DestinationPorts      []string `json:"destination_ports,omitempty"`
	// Protocols are Any, ICMP, TCP or UDP.
	Protocols []string `json:"protocols,omitempty"`
}

// OwnerKind says who owns a rule set.
type OwnerKind string

// Owner kinds.
const (
	// OwnerResource: a deployed resource (workspace, workspace service, user
	// resource, shared service) declared the rules in its template.
	OwnerResource OwnerKind = "resource"
	// OwnerManual: an admin added the rules by hand; they go to the manual
	// groups, which take precedence over TRE's (AzureTRE #882, #2920).
	OwnerManual OwnerKind = "manual"
)

// Valid reports whether k is a known owner kind.
func (k OwnerKind) Valid() bool { return k == OwnerResource || k == OwnerManual }

// Owner identifies who declared a rule set. Kind and ID identify it; the
// other fields are labels for people (an admin asking "whose rule is this?",
// AzureTRE #882).
type Owner struct {
	Kind OwnerKind `json:"kind"`
	// ID is the resource id, or the manual rule set's id.
	ID string `json:"id"`
	// Name is a human label (the resource's display name).
	Name         string `json:"name,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	ResourcePath string `json:"resourcePath,omitempty"`
}

// String identifies the owner in messages: its kind and quoted id.
func (o Owner) String() string { return string(o.Kind) + " " + strconv.Quote(o.ID) }

// Owned is one owner's declared rules.
type Owned struct {
	Owner Owner   `json:"owner"`
	Rules RuleSet `json:"rules"`
}

// Clone returns a deep copy of rs, so that no caller's slices are kept.
func (rs RuleSet) Clone() RuleSet {
	var out RuleSet
	if rs.ApplicationRuleCollections != nil {
		out.ApplicationRuleCollections = make([]ApplicationRuleCollection, len(rs.ApplicationRuleCollections))
		for i, c := range rs.ApplicationRuleCollections {
			c.Rules = cloneApplicationRules(c.Rules)
			out.ApplicationRuleCollections[i] = c
		}
	}
	if rs.NetworkRuleCollections != nil {
		out.NetworkRuleCollections = make([]NetworkRuleCollection, len(rs.NetworkRuleCollections))
		for i, c := range rs.NetworkRuleCollections {
			c.Rules = cloneNetworkRules(c.Rules)
			out.NetworkRuleCollections[i] = c
		}
	}
	return out
}

func cloneApplicationRules(rules []ApplicationRule) []ApplicationRule {
	if rules == nil {
		return nil
	}
	out := make([]ApplicationRule, len(rules))
	for i, r := range rules {
		r.Protocols = cloneSlice(r.Protocols)
		r.FQDNTags = cloneSlice(r.FQDNTags)
		r.TargetFQDNs = cloneSlice(r.TargetFQDNs)
		r.SourceAddresses = cloneSlice(r.SourceAddresses)
		r.SourceIPGroupIDs = cloneSlice(r.SourceIPGroupIDs)
		out[i] = r
	}
	return out
}

func cloneNetworkRules(rules []NetworkRule) []NetworkRule {
	if rules == nil {
		return nil
	}
	out := make([]NetworkRule, len(rules))
	for i, r := range rules {
		r.SourceAddresses = cloneSlice(r.SourceAddresses)
		r.SourceIPGroupIDs = cloneSlice(r.SourceIPGroupIDs)
		r.DestinationAddresses = cloneSlice(r.DestinationAddresses)
		r.DestinationIPGroupIDs = cloneSlice(r.DestinationIPGroupIDs)
		r.DestinationFQDNs = cloneSlice(r.DestinationFQDNs)
		r.DestinationPorts = cloneSlice(r.DestinationPorts)
		r.Protocols = cloneSlice(r.Protocols)
		out[i] = r
	}
	return out
}

// cloneSlice copies s, keeping nil as nil so that round trips compare equal.
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
