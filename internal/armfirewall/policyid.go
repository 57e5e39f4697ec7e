package armfirewall

import (
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/tre-go/tre/internal/tre"
)

// ParsePolicyID reads the ARM id of a firewall policy,
// /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/firewallPolicies/<name>,
// into a Config. Returns CodeInvalid saying what is wrong.
func ParsePolicyID(id string) (Config, error) {
	r, err := arm.ParseResourceID(id)
	if err != nil {
		return Config{}, tre.WrapError(tre.CodeInvalid, err, "%q is not an ARM resource id: %s", id, err)
	}
	if !strings.EqualFold(r.ResourceType.String(), "Microsoft.Network/firewallPolicies") {
		return Config{}, tre.Errorf(tre.CodeInvalid, "%q is a %s, not a Microsoft.Network/firewallPolicies", id, r.ResourceType)
	}
	if r.SubscriptionID == "" || r.ResourceGroupName == "" || r.Name == "" {
		return Config{}, tre.Errorf(tre.CodeInvalid, "%q lacks a subscription, resource group or name", id)
	}
	return Config{SubscriptionID: r.SubscriptionID, ResourceGroup: r.ResourceGroupName, PolicyName: r.Name}, nil
}
