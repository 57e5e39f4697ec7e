package tre

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleGroup() RuleCollectionGroup {
	return RuleCollectionGroup{
		Name: "rcg-tre-network", Priority: 500,
		Collections: []RuleCollection{
			{
				Name: "ws-a.nrc", Priority: 1000, Action: RuleAllow,
				NetworkRules: []NetworkRule{
					{Name: "allow-dns", SourceAddresses: []string{"10.0.0.0/24", "10.1.0.0/24"}, DestinationAddresses: []string{"168.63.129.16"},
						DestinationPorts: []string{"53"}, Protocols: []string{"UDP", "TCP"}},
					{Name: "allow-ntp", SourceAddresses: []string{"10.0.0.0/24"}, DestinationFQDNs: []string{"time.windows.com"},
						DestinationPorts: []string{"123"}, Protocols: []string{"UDP"}, Description: "time"},
				},
				Owner: RuleOwner{Kind: RuleOwnerResource, ID: "ws-a"}, OwnerCollection: "nrc",
			},
			{
				Name: "ws-b.arc", Priority: 1010, Action: RuleAllow,
				ApplicationRules: []ApplicationRule{{
					Name: "allow-web", Protocols: []Protocol{{Port: "443", Type: "Https"}, {Port: "80", Type: "Http"}},
					TargetFQDNs: []string{"github.com", "*.github.com"}, SourceAddresses: []string{"10.0.0.0/24"},
				}},
			},
		},
	}
}

func TestGroupEqualIgnoresWhatAzureIgnores(t *testing.T) {
	tests := []struct {
		name   string
		change func(*RuleCollectionGroup)
	}{
		{"identical", func(*RuleCollectionGroup) {}},
		{"collection order", func(g *RuleCollectionGroup) { slices.Reverse(g.Collections) }},
		{"rule order", func(g *RuleCollectionGroup) { slices.Reverse(g.Collections[0].NetworkRules) }},
		{"list order", func(g *RuleCollectionGroup) {
			slices.Reverse(g.Collections[0].NetworkRules[0].Protocols)
			slices.Reverse(g.Collections[0].NetworkRules[0].SourceAddresses)
			slices.Reverse(g.Collections[1].ApplicationRules[0].Protocols)
			slices.Reverse(g.Collections[1].ApplicationRules[0].TargetFQDNs)
		}},
		{"duplicates in a list", func(g *RuleCollectionGroup) {
			r := &g.Collections[0].NetworkRules[0]
			r.DestinationPorts = append(r.DestinationPorts, "53")
		}},
		{"case of names and values", func(g *RuleCollectionGroup) {
			g.Name = "RCG-TRE-Network"
			g.Collections[1].Name = "WS-B.ARC"
			g.Collections[1].ApplicationRules[0].TargetFQDNs[0] = "GitHub.com"
			g.Collections[1].ApplicationRules[0].Protocols[0].Type = "HTTPS"
		}},
		{"port as written", func(g *RuleCollectionGroup) { g.Collections[1].ApplicationRules[0].Protocols[0].Port = "0443" }},
		{"owner labels", func(g *RuleCollectionGroup) {
			g.Collections[0].Owner = RuleOwner{}
			g.Collections[0].OwnerCollection = ""
			g.Collections[1].Owner = RuleOwner{Kind: RuleOwnerManual, ID: "someone"}
		}},
		{"empty lists versus nil", func(g *RuleCollectionGroup) {
			g.Collections[0].NetworkRules[0].DestinationIPGroupIDs = []string{}
			g.Collections[1].NetworkRules = []NetworkRule{}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := sampleGroup(), sampleGroup()
			tc.change(&b)
			require.True(t, a.Equal(b))
			require.True(t, b.Equal(a))
		})
	}
}

func TestGroupEqualSeesEveryChange(t *testing.T) {
	tests := []struct {
		name   string
		change func(*RuleCollectionGroup)
	}{
		{"group name", func(g *RuleCollectionGroup) { g.Name = "rcg-tre-other" }},
		{"group priority", func(g *RuleCollectionGroup) { g.Priority = 501 }},
		{"group failed in Azure", func(g *RuleCollectionGroup) { g.ProvisioningState = "Failed" }},
		{"collection removed", func(g *RuleCollectionGroup) { g.Collections = g.Collections[:1] }},
		{"collection renamed", func(g *RuleCollectionGroup) { g.Collections[0].Name = "ws-a.nrc2" }},
		{"collection priority", func(g *RuleCollectionGroup) { g.Collections[0].Priority = 1001 }},
		{"action", func(g *RuleCollectionGroup) { g.Collections[0].Action = "Deny" }},
		{"unsupported content", func(g *RuleCollectionGroup) { g.Collections[0].Unsupported = "NAT rule" }},
		{"rule removed", func(g *RuleCollectionGroup) { g.Collections[0].NetworkRules = g.Collections[0].NetworkRules[:1] }},
		{"rule renamed", func(g *RuleCollectionGroup) { g.Collections[0].NetworkRules[1].Name = "allow-ntp2" }},
		{"description", func(g *RuleCollectionGroup) { g.Collections[0].NetworkRules[1].Description = "Time" }},
		{"source added", func(g *RuleCollectionGroup) {
			r := &g.Collections[0].NetworkRules[0]
			r.SourceAddresses = append(r.SourceAddresses, "*")
		}},
		{"port", func(g *RuleCollectionGroup) { g.Collections[0].NetworkRules[0].DestinationPorts[0] = "54" }},
		{"network protocol", func(g *RuleCollectionGroup) { g.Collections[0].NetworkRules[1].Protocols[0] = "TCP" }},
		{"destination fqdn", func(g *RuleCollectionGroup) { g.Collections[0].NetworkRules[1].DestinationFQDNs = nil }},
		{"ip group", func(g *RuleCollectionGroup) {
			g.Collections[0].NetworkRules[1].SourceIPGroupIDs = []string{"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/ipGroups/g"}
		}},
		{"app protocol port", func(g *RuleCollectionGroup) { g.Collections[1].ApplicationRules[0].Protocols[0].Port = "8443" }},
		{"fqdn", func(g *RuleCollectionGroup) { g.Collections[1].ApplicationRules[0].TargetFQDNs[1] = "*.gitlab.com" }},
		{"fqdn tag", func(g *RuleCollectionGroup) {
			g.Collections[1].ApplicationRules[0].FQDNTags = []string{"WindowsUpdate"}
		}},
		{"rule kind", func(g *RuleCollectionGroup) {
			g.Collections[1].NetworkRules = []NetworkRule{{Name: "allow-web"}}
			g.Collections[1].ApplicationRules = nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := sampleGroup(), sampleGroup()
			tc.change(&b)
			require.False(t, a.Equal(b))
			require.False(t, b.Equal(a))
		})
	}
}

func TestGroupCloneIsDeep(t *testing.T) {
	g := sampleGroup()
	c := g.Clone()
	c.Collections[0].NetworkRules[0].SourceAddresses[0] = "changed"
	c.Collections[1].ApplicationRules[0].Protocols[0].Port = "1"
	require.True(t, g.Equal(sampleGroup()))
	require.Nil(t, CloneGroups(nil))
}

func TestGroupCheck(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*RuleCollectionGroup)
		message string
	}{
		{"valid", func(*RuleCollectionGroup) {}, ""},
		{"group name", func(g *RuleCollectionGroup) { g.Name = "rcg tre" }, "may contain only"},
		{"group priority", func(g *RuleCollectionGroup) { g.Priority = 99 }, "priority 99 is outside 100 to 65000"},
		{"collection priority", func(g *RuleCollectionGroup) { g.Collections[1].Priority = 65001 }, "priority 65001 is outside"},
		{"duplicate collection names", func(g *RuleCollectionGroup) { g.Collections[1].Name = "WS-A.NRC" }, "is also used by collections[0]"},
		{"deny", func(g *RuleCollectionGroup) { g.Collections[0].Action = "Deny" }, `action "Deny"`},
		{"mixed kinds", func(g *RuleCollectionGroup) {
			g.Collections[1].NetworkRules = g.Collections[0].NetworkRules
		}, "both application and network rules"},
		{"unsupported", func(g *RuleCollectionGroup) { g.Collections[0].Unsupported = "a NAT collection" }, "cannot be written: a NAT collection"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := sampleGroup()
			tc.change(&g)
			err := g.Check()
			if tc.message == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, CodeInvalid, ErrorCode(err))
			require.ErrorContains(t, err, tc.message)
		})
	}
}
