package armfirewall

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/tre-go/tre/internal/tre"
)

// toSDK converts a group to the SDK's request type: every collection a
// filter collection, every rule an ApplicationRule or a (network) Rule. An
// empty description is sent as absent, as AzureTRE's Terraform does.
// Returns CodeInvalid for a port that is not a number.
func toSDK(g tre.RuleCollectionGroup) (armnetwork.FirewallPolicyRuleCollectionGroup, error) {
	collections := make([]armnetwork.FirewallPolicyRuleCollectionClassification, 0, len(g.Collections))
	for _, c := range g.Collections {
		fc := &armnetwork.FirewallPolicyFilterRuleCollection{
			RuleCollectionType: to.Ptr(armnetwork.FirewallPolicyRuleCollectionTypeFirewallPolicyFilterRuleCollection),
			Name:               to.Ptr(c.Name),
			Priority:           to.Ptr(c.Priority),
			Action: &armnetwork.FirewallPolicyFilterRuleCollectionAction{
				Type: to.Ptr(armnetwork.FirewallPolicyFilterRuleCollectionActionType(c.Action)),
			},
		}
		for _, r := range c.ApplicationRules {
			protocols := make([]*armnetwork.FirewallPolicyRuleApplicationProtocol, 0, len(r.Protocols))
			for _, p := range r.Protocols {
				port, err := strconv.ParseInt(p.Port, 10, 32)
				if err != nil {
					return armnetwork.FirewallPolicyRuleCollectionGroup{}, tre.Errorf(tre.CodeInvalid,
						"collection %q rule %q: port %q is not a number", c.Name, r.Name, p.Port)
				}
				protocols = append(protocols, &armnetwork.FirewallPolicyRuleApplicationProtocol{
					// The SDK's enum lists Http and Https; Azure also
					// takes Mssql, which AzureTRE's schema allows.
					ProtocolType: to.Ptr(armnetwork.FirewallPolicyRuleApplicationProtocolType(p.Type)),
					Port:         to.Ptr(int32(port)),
				})
			}
			fc.Rules = append(fc.Rules, &armnetwork.ApplicationRule{
				RuleType:        to.Ptr(armnetwork.FirewallPolicyRuleTypeApplicationRule),
				Name:            to.Ptr(r.Name),
				Description:     optional(r.Description),
				Protocols:       protocols,
				FqdnTags:        ptrs(r.FQDNTags),
				TargetFqdns:     ptrs(r.TargetFQDNs),
				SourceAddresses: ptrs(r.SourceAddresses),
				SourceIPGroups:  ptrs(r.SourceIPGroupIDs),
			})
		}
		for _, r := range c.NetworkRules {
			var protocols []*armnetwork.FirewallPolicyRuleNetworkProtocol
			for _, p := range r.Protocols {
				protocols = append(protocols, to.Ptr(armnetwork.FirewallPolicyRuleNetworkProtocol(p)))
			}
			fc.Rules = append(fc.Rules, &armnetwork.Rule{
				RuleType:             to.Ptr(armnetwork.FirewallPolicyRuleTypeNetworkRule),
				Name:                 to.Ptr(r.Name),
				Description:          optional(r.Description),
				SourceAddresses:      ptrs(r.SourceAddresses),
				SourceIPGroups:       ptrs(r.SourceIPGroupIDs),
				DestinationAddresses: ptrs(r.DestinationAddresses),
				DestinationIPGroups:  ptrs(r.DestinationIPGroupIDs),
				DestinationFqdns:     ptrs(r.DestinationFQDNs),
				DestinationPorts:     ptrs(r.DestinationPorts),
				IPProtocols:          protocols,
			})
		}
		collections = append(collections, fc)
	}
	return armnetwork.FirewallPolicyRuleCollectionGroup{
		Properties: &armnetwork.FirewallPolicyRuleCollectionGroupProperties{
			Priority:        to.Ptr(g.Priority),
			RuleCollections: collections,
		},
	}, nil
}

// fromSDK converts a group read from Azure. A provisioning state other than
// Succeeded is kept, so that the group is written again. What the model
// cannot hold (NAT
// collections, rules with target URLs, web categories, TLS inspection,
// inserted headers or destination addresses in application rules) is noted
// in the collection's Unsupported, so that it never compares equal to a
// desired collection.
func fromSDK(g *armnetwork.FirewallPolicyRuleCollectionGroup) tre.RuleCollectionGroup {
	out := tre.RuleCollectionGroup{Name: deref(g.Name)}
	if g.Properties == nil {
		return out
	}
	out.Priority = deref(g.Properties.Priority)
	if state := deref(g.Properties.ProvisioningState); state != "" && state != armnetwork.ProvisioningStateSucceeded {
		out.ProvisioningState = string(state)
	}
	for _, rc := range g.Properties.RuleCollections {
		if rc == nil {
			continue
		}
		out.Collections = append(out.Collections, collectionFromSDK(rc))
	}
	return out
}

func collectionFromSDK(rc armnetwork.FirewallPolicyRuleCollectionClassification) tre.RuleCollection {
	base := rc.GetFirewallPolicyRuleCollection()
	c := tre.RuleCollection{Name: deref(base.Name), Priority: deref(base.Priority)}
	fc, ok := rc.(*armnetwork.FirewallPolicyFilterRuleCollection)
	if !ok {
		c.Unsupported = fmt.Sprintf("a rule collection of type %s", deref(base.RuleCollectionType))
		return c
	}
	if fc.Action != nil {
		c.Action = tre.RuleAction(deref(fc.Action.Type))
	}
	var unsupported []string
	for _, rule := range fc.Rules {
		switch r := rule.(type) {
		case *armnetwork.ApplicationRule:
			ar := tre.ApplicationRule{
				Name:             deref(r.Name),
				Description:      deref(r.Description),
				FQDNTags:         strs(r.FqdnTags),
				TargetFQDNs:      strs(r.TargetFqdns),
				SourceAddresses:  strs(r.SourceAddresses),
				SourceIPGroupIDs: strs(r.SourceIPGroups),
			}
			for _, p := range r.Protocols {
				if p == nil {
					continue
				}
				proto := tre.Protocol{Type: string(deref(p.ProtocolType))}
				if p.Port != nil {
					proto.Port = strconv.Itoa(int(*p.Port))
				}
				ar.Protocols = append(ar.Protocols, proto)
			}
			if extra := applicationExtras(r); extra != "" {
				unsupported = append(unsupported, fmt.Sprintf("rule %q has %s", ar.Name, extra))
			}
			c.ApplicationRules = append(c.ApplicationRules, ar)
		case *armnetwork.Rule:
			nr := tre.NetworkRule{
				Name:                  deref(r.Name),
				Description:           deref(r.Description),
				SourceAddresses:       strs(r.SourceAddresses),
				SourceIPGroupIDs:      strs(r.SourceIPGroups),
				DestinationAddresses:  strs(r.DestinationAddresses),
				DestinationIPGroupIDs: strs(r.DestinationIPGroups),
				DestinationFQDNs:      strs(r.DestinationFqdns),
				DestinationPorts:      strs(r.DestinationPorts),
			}
			for _, p := range r.IPProtocols {
				if p != nil {
					nr.Protocols = append(nr.Protocols, string(*p))
				}
			}
			c.NetworkRules = append(c.NetworkRules, nr)
		case nil:
		default:
			base := rule.GetFirewallPolicyRule()
			unsupported = append(unsupported, fmt.Sprintf("rule %q of type %s", deref(base.Name), deref(base.RuleType)))
		}
	}
	c.Unsupported = strings.Join(unsupported, "; ")
	return c
}

// applicationExtras names the fields of an application rule that the model
// does not hold.
func applicationExtras(r *armnetwork.ApplicationRule) string {
	var extras []string
	if len(r.DestinationAddresses) > 0 {
		extras = append(extras, "destination addresses")
	}
	if len(r.TargetUrls) > 0 {
		extras = append(extras, "target URLs")
	}
	if len(r.WebCategories) > 0 {
		extras = append(extras, "web categories")
	}
	if len(r.HTTPHeadersToInsert) > 0 {
		extras = append(extras, "inserted HTTP headers")
	}
	if deref(r.TerminateTLS) {
		extras = append(extras, "TLS termination")
	}
	return strings.Join(extras, ", ")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ptrs converts a list to the SDK's pointers; empty becomes nil (absent).
func ptrs(s []string) []*string {
	if len(s) == 0 {
		return nil
	}
	out := make([]*string, len(s))
	for i := range s {
		out[i] = to.Ptr(s[i])
	}
	return out
}

func strs(p []*string) []string {
	var out []string
	for _, s := range p {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}
