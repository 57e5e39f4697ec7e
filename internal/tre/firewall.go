package tre

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Firewall is the egress firewall port: it reads and writes the rule
// collection groups of one firewall policy. Adapters: the Azure Firewall
// Policy (package armfirewall) and a JSON file for running on one machine
// (package firewallfile). Every adapter passes the conformance suite in
// internal/firewalltest, never keeps the caller's slices, and treats group
// names without regard to case, as Azure does.
//
// An adapter does not serialise writers itself: the firewall service holds
// a lease around its writes, because Azure Firewall takes one policy update
// at a time (AzureTRE #1939).
type Firewall interface {
	// Groups returns every group of the policy, including the ones the
	// firewall service does not manage. Returns CodeUnavailable when the
	// firewall cannot be reached.
	Groups(ctx context.Context) ([]RuleCollectionGroup, error)
	// Put creates or replaces the group with g's name, whole. Returns
	// CodeInvalid for a group Check refuses, CodeUnavailable.
	Put(ctx context.Context, g RuleCollectionGroup) error
	// Delete removes the group; deleting a group that does not exist
	// succeeds. Returns CodeUnavailable.
	Delete(ctx context.Context, name string) error
}

// Azure's rules for the names of rule collection groups, rule collections
// and rules: letters, digits, '_', '.', '-'; starting with a letter or digit
// and ending with a letter, digit or '_'; at most 80 characters
// (learn.microsoft.com/azure/firewall/rule-processing).
var ruleName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$`) })

// MaxRuleNameLength is Azure's limit on the names of rule collection
// groups, rule collections and rules.
const MaxRuleNameLength = 80

// Priorities of rule collection groups and rule collections must lie in
// Azure's range; lower numbers are evaluated first.
const (
	MinRulePriority = 100
	MaxRulePriority = 65000
)

// CheckRuleName checks the name of a rule collection group, rule collection
// or rule by Azure's rules, with at least minLen characters. It returns
// what is wrong, or "" for a good name.
func CheckRuleName(name string, minLen int) string {
	switch {
	case name == "":
		return "name is empty"
	case len(name) < minLen || len(name) > MaxRuleNameLength:
		return fmt.Sprintf("name %q must have %d to %d characters", name, minLen, MaxRuleNameLength)
	case !ruleName().MatchString(name):
		return fmt.Sprintf("name %q may contain only letters, digits, '_', '.' and '-', and must start with a letter or digit and end with a letter, digit or '_'", name)
	}
	return ""
}

// RuleCollectionGroup is one Azure Firewall Policy rule collection group:
// the unit the Firewall port reads and writes whole (an ARM PUT replaces the group).
type RuleCollectionGroup struct {
	Name        string           `json:"name"`
	Priority    int32            `json:"priority"`
	Collections []RuleCollection `json:"collections"`
	// ProvisioningState is set by an adapter that read a group Azure has
	// not settled as succeeded (Failed after a bad update, AzureTRE #3448,
	// or Updating). Such a group never compares equal to a desired one, so
	// a reconcile writes it again. Adapters ignore it on Put.
	ProvisioningState string `json:"provisioning_state,omitempty"`
}

// RuleAction is a filter rule collection's action.
type RuleAction string

// RuleAllow is the only action TRE writes: egress is denied by default and
// rules open it.
const RuleAllow RuleAction = "Allow"

// RuleCollection is a filter rule collection: a name, a priority within its
// group, an action and rules of one kind (application or network; Azure
// does not mix them in one collection).
type RuleCollection struct {
	Name             string            `json:"name"`
	Priority         int32             `json:"priority"`
	Action           RuleAction        `json:"action"`
	ApplicationRules []ApplicationRule `json:"application_rules,omitempty"`
	NetworkRules     []NetworkRule     `json:"network_rules,omitempty"`
	// Unsupported is set by an adapter that read something this model cannot
	// hold (a NAT collection, a rule with target URLs or TLS inspection), so
	// that such a collection never compares equal to a desired one and a
	// reconcile replaces it. Its text says what was found.
	Unsupported string `json:"unsupported,omitempty"`

	// Owner and OwnerCollection say who declared the collection and under
	// which name, so that an API can show a per-owner view (firewall.ByOwner). They
	// are not part of Azure's state: Equal ignores them and the Azure
	// adapter neither writes nor reads them.
	Owner           RuleOwner `json:"owner,omitzero"`
	OwnerCollection string    `json:"owner_collection,omitempty"`
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
			c.ApplicationRules = CloneApplicationRules(c.ApplicationRules)
			c.NetworkRules = CloneNetworkRules(c.NetworkRules)
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

// Check checks what every Firewall adapter requires before writing a
// group, so that the local and the Azure adapters refuse the same groups:
// Azure's names and priority range, unique collection names, and
// collections of one rule kind that the model can write. Rules themselves
// are checked by firewall.Validate, before they get into a group. Returns
// CodeInvalid.
func (g RuleCollectionGroup) Check() error {
	var problems []FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	field := fmt.Sprintf("group %q", g.Name)
	if msg := CheckRuleName(g.Name, 1); msg != "" {
		add(field, "%s", msg)
	}
	if g.Priority < MinRulePriority || g.Priority > MaxRulePriority {
		add(field, "priority %d is outside %d to %d", g.Priority, MinRulePriority, MaxRulePriority)
	}
	seen := map[string]int{}
	for i, c := range g.Collections {
		cf := fmt.Sprintf("%s.collections[%d] %q", field, i, c.Name)
		if msg := CheckRuleName(c.Name, 1); msg != "" {
			add(cf, "%s", msg)
		} else if j, dup := seen[strings.ToLower(c.Name)]; dup {
			add(cf, "name %q is also used by collections[%d]", c.Name, j)
		} else {
			seen[strings.ToLower(c.Name)] = i
		}
		if c.Priority < MinRulePriority || c.Priority > MaxRulePriority {
			add(cf, "priority %d is outside %d to %d", c.Priority, MinRulePriority, MaxRulePriority)
		}
		if c.Action != RuleAllow {
			add(cf, "action %q: TRE writes only %s collections", c.Action, RuleAllow)
		}
		if len(c.ApplicationRules) > 0 && len(c.NetworkRules) > 0 {
			add(cf, "has both application and network rules: Azure takes one kind per collection")
		}
		if c.Unsupported != "" {
			add(cf, "cannot be written: %s", c.Unsupported)
		}
	}
	return InvalidFields("invalid rule collection group", problems)
}

// canonicalGroup returns g in a form where two groups that configure Azure
// the same way are deeply equal.
func canonicalGroup(g RuleCollectionGroup) RuleCollectionGroup {
	out := RuleCollectionGroup{Name: strings.ToLower(g.Name), Priority: g.Priority, ProvisioningState: g.ProvisioningState}
	for _, c := range g.Collections {
		cc := RuleCollection{
			Name:        strings.ToLower(c.Name),
			Priority:    c.Priority,
			Action:      RuleAction(strings.ToLower(string(c.Action))),
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
	// SourceIPGroupsInCore names IP groups of the TRE's core resource
	// group (AzureTRE's property); the firewall service turns them into
	// SourceIPGroupIDs before any rule reaches a firewall.
	SourceIPGroupsInCore []string `json:"source_ip_groups_in_core,omitempty"`
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

// NetworkRule allows IP traffic from sources to destinations on ports.
type NetworkRule struct {
	Name             string   `json:"name"`
	Description      string   `json:"description,omitempty"`
	SourceAddresses  []string `json:"source_addresses,omitempty"`
	SourceIPGroupIDs []string `json:"source_ip_group_ids,omitempty"`
	// SourceIPGroupsInCore is as in ApplicationRule.
	SourceIPGroupsInCore  []string `json:"source_ip_groups_in_core,omitempty"`
	DestinationAddresses  []string `json:"destination_addresses,omitempty"`
	DestinationIPGroupIDs []string `json:"destination_ip_group_ids,omitempty"`
	DestinationFQDNs      []string `json:"destination_fqdns,omitempty"`
	DestinationPorts      []string `json:"destination_ports,omitempty"`
	// Protocols are Any, ICMP, TCP or UDP.
	Protocols []string `json:"protocols,omitempty"`
}

// RuleOwnerKind says who declared a rule collection.
type RuleOwnerKind string

// Owner kinds.
const (
	// RuleOwnerResource: a deployed resource (workspace, workspace service, user
	// resource, shared service) declared the rules in its template.
	RuleOwnerResource RuleOwnerKind = "resource"
	// RuleOwnerManual: an admin added the rules by hand; they go to the manual
	// groups, which take precedence over TRE's (AzureTRE #882, #2920).
	RuleOwnerManual RuleOwnerKind = "manual"
)

// Valid reports whether k is a known owner kind.
func (k RuleOwnerKind) Valid() bool { return k == RuleOwnerResource || k == RuleOwnerManual }

// RuleOwner identifies who declared a rule set. Kind and ID identify it; the
// other fields are labels for people (an admin asking "whose rule is this?",
// AzureTRE #882).
type RuleOwner struct {
	Kind RuleOwnerKind `json:"kind"`
	// ID is the resource id, or the manual rule set's id.
	ID string `json:"id"`
	// Name is a human label (the resource's display name).
	Name         string `json:"name,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	ResourcePath string `json:"resourcePath,omitempty"`
}

// String identifies the owner in messages: its kind and quoted id.
func (o RuleOwner) String() string { return string(o.Kind) + " " + strconv.Quote(o.ID) }

// CloneApplicationRules returns a deep copy of rules.
func CloneApplicationRules(rules []ApplicationRule) []ApplicationRule {
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

// CloneNetworkRules returns a deep copy of rules.
func CloneNetworkRules(rules []NetworkRule) []NetworkRule {
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
