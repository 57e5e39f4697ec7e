package armfirewall

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/firewalltest"
	"github.com/tre-go/tre/internal/tre"
)

// viaJSON sends g through the SDK's wire format both ways, as a PUT and a
// later GET do.
func viaJSON(t *testing.T, g tre.RuleCollectionGroup) tre.RuleCollectionGroup {
	t.Helper()
	sdk, err := toSDK(g)
	require.NoError(t, err)
	data, err := json.Marshal(sdk)
	require.NoError(t, err)
	var back armnetwork.FirewallPolicyRuleCollectionGroup
	require.NoError(t, json.Unmarshal(data, &back))
	back.Name = &g.Name // the name travels in the URL, not the body
	return fromSDK(&back)
}

func TestConversionRoundTrips(t *testing.T) {
	desired, errs := firewall.Desired([]firewall.Owned{ownerRules(1), ownerRules(2)}, firewall.Config{})
	require.Empty(t, errs)
	tests := []struct {
		name string
		g    tre.RuleCollectionGroup
	}{
		{"every field", firewalltest.Group("rcg-tre-network", 500)},
		{"desired network", desired[0]},
		{"desired application", desired[1]},
		{"no collections", tre.RuleCollectionGroup{Name: "rcg-tre-empty", Priority: 600}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := viaJSON(t, tc.g)
			require.True(t, got.Equal(tc.g))
			// Field by field, apart from the owner labels Azure does not keep.
			want := tc.g.Clone()
			for i := range want.Collections {
				want.Collections[i].Owner = tre.RuleOwner{}
				want.Collections[i].OwnerCollection = ""
			}
			require.Equal(t, want, got)
		})
	}
}

func TestToSDKShape(t *testing.T) {
	g := tre.RuleCollectionGroup{Name: "rcg-tre-application", Priority: 510, Collections: []tre.RuleCollection{{
		Name: "ws.arc", Priority: 1000, Action: tre.RuleAllow,
		ApplicationRules: []tre.ApplicationRule{
			{Name: "no-description", Protocols: []tre.Protocol{{Port: "1433", Type: "Mssql"}},
				FQDNTags: []string{"WindowsUpdate"}, SourceAddresses: []string{"10.0.0.0/24"}},
			{Name: "described", Description: "d", Protocols: []tre.Protocol{{Port: "443", Type: "Https"}},
				TargetFQDNs: []string{"example.com"}, SourceAddresses: []string{"10.0.0.0/24"}},
		},
	}}}
	sdk, err := toSDK(g)
	require.NoError(t, err)
	data, err := json.Marshal(sdk)
	require.NoError(t, err)
	require.JSONEq(t, `{"properties": {"priority": 510, "ruleCollections": [{
	  "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "ws.arc", "priority": 1000,
	  "action": {"type": "Allow"},
	  "rules": [
	    {"ruleType": "ApplicationRule", "name": "no-description", "protocols": [{"protocolType": "Mssql", "port": 1433}],
	     "fqdnTags": ["WindowsUpdate"], "sourceAddresses": ["10.0.0.0/24"]},
	    {"ruleType": "ApplicationRule", "name": "described", "description": "d", "protocols": [{"protocolType": "Https", "port": 443}],
	     "targetFqdns": ["example.com"], "sourceAddresses": ["10.0.0.0/24"]}
	  ]}]}}`, string(data))

	g.Collections[0].ApplicationRules[0].Protocols[0].Port = "https"
	_, err = toSDK(g)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
}

func TestFromSDKReadsWhatAzureReturns(t *testing.T) {
	// A group as the GET answers it, edited in the portal: a NAT
	// collection, an application rule with target URLs, a denying
	// collection; and left Failed by an update.
	const answer = `{
	  "id": "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/firewallPolicies/fp1/ruleCollectionGroups/rcg-tre-network",
	  "name": "rcg-tre-network", "type": "Microsoft.Network/FirewallPolicies/RuleCollectionGroups", "etag": "W/\"1\"",
	  "properties": {"priority": 500, "provisioningState": "Succeeded", "size": "0.01 MB", "ruleCollections": [
	    {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "ws.nrc", "priority": 1000, "action": {"type": "Allow"},
	     "rules": [{"ruleType": "NetworkRule", "name": "allow-dns", "description": "dns", "sourceAddresses": ["10.0.0.0/24"],
	       "sourceIpGroups": [], "destinationAddresses": ["168.63.129.16"], "destinationIpGroups": [],
	       "destinationFqdns": [], "destinationPorts": ["53"], "ipProtocols": ["UDP"]}]},
	    {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "ws.arc", "priority": 1010, "action": {"type": "Deny"},
	     "rules": [{"ruleType": "ApplicationRule", "name": "allow-web", "sourceAddresses": ["10.0.0.0/24"],
	       "protocols": [{"protocolType": "Https", "port": 443}], "targetFqdns": [], "targetUrls": ["example.com/x"],
	       "terminateTLS": true, "fqdnTags": []}]},
	    {"ruleCollectionType": "FirewallPolicyNatRuleCollection", "name": "dnat", "priority": 1020, "action": {"type": "DNAT"},
	     "rules": [{"ruleType": "NatRule", "name": "rdp", "translatedAddress": "10.0.0.4", "translatedPort": "3389"}]}
	  ]}}`
	var sdk armnetwork.FirewallPolicyRuleCollectionGroup
	require.NoError(t, json.Unmarshal([]byte(strings.Replace(answer, `"Succeeded"`, `"Failed"`, 1)), &sdk))
	require.Equal(t, tre.RuleCollectionGroup{
		Name: "rcg-tre-network", Priority: 500, ProvisioningState: "Failed",
		Collections: []tre.RuleCollection{
			{Name: "ws.nrc", Priority: 1000, Action: tre.RuleAllow, NetworkRules: []tre.NetworkRule{{
				Name: "allow-dns", Description: "dns", SourceAddresses: []string{"10.0.0.0/24"},
				DestinationAddresses: []string{"168.63.129.16"}, DestinationPorts: []string{"53"}, Protocols: []string{"UDP"},
			}}},
			{Name: "ws.arc", Priority: 1010, Action: "Deny", ApplicationRules: []tre.ApplicationRule{{
				Name: "allow-web", SourceAddresses: []string{"10.0.0.0/24"}, Protocols: []tre.Protocol{{Port: "443", Type: "Https"}},
			}}, Unsupported: `rule "allow-web" has target URLs, TLS termination`},
			{Name: "dnat", Priority: 1020, Unsupported: "a rule collection of type FirewallPolicyNatRuleCollection"},
		},
	}, fromSDK(&sdk))
}
