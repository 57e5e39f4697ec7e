package armfirewall

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePolicyID(t *testing.T) {
	c, err := ParsePolicyID("/subscriptions/0000-1111/resourceGroups/rg-tre/providers/Microsoft.Network/firewallPolicies/fw-policy")
	require.NoError(t, err)
	assert.Equal(t, Config{SubscriptionID: "0000-1111", ResourceGroup: "rg-tre", PolicyName: "fw-policy"}, c)

	c, err = ParsePolicyID("/subscriptions/s/resourcegroups/rg/providers/microsoft.network/firewallpolicies/p")
	require.NoError(t, err, "ARM ids are case-insensitive")
	assert.Equal(t, "p", c.PolicyName)

	for _, bad := range []string{
		"", "fw-policy",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/azureFirewalls/fw",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/p/ruleCollectionGroups/g",
		"/subscriptions/s/resourceGroups/rg",
	} {
		_, err := ParsePolicyID(bad)
		assert.Error(t, err, bad)
	}
}
