package infracheck

import (
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
)

// azureTRENames are core names that AzureTRE's bundles look up (data
// sources in rg-<tre_id>) and the core here creates under the same name;
// docs/deploy.md ("Names a bundle finds in the core") lists them, and what
// a bundle may not assume.
var azureTRENames = map[string][]string{
	"subnet":           {"SharedSubnet", "ResourceProcessorSubnet", "WebAppSubnet", "AzureFirewallSubnet"},
	"identity":         {"id-vmss-${var.tre_id}", "id-api-${var.tre_id}"},
	"IP group":         {"ipg-resource-processor", "ipg-shared", "ipg-web-app"},
	"private DNS zone": {"privatelink.blob.core.windows.net", "privatelink.file.core.windows.net", "privatelink.vaultcore.azure.net", "privatelink.azurecr.io"},
}

// coreNames returns the names the Terraform gives subnets and private DNS
// zones (the network module in networkDir), identities and IP groups (the
// root module in rootDir).
func coreNames(networkDir, rootDir string) (map[string][]string, error) {
	out := map[string][]string{}
	network, err := loadModule(networkDir)
	if err != nil {
		return nil, err
	}
	subnets, err := network.objectKeys(network.locals["subnets"].Expr)
	if err != nil {
		return nil, err
	}
	for _, e := range subnets {
		obj, err := network.objectKeys(e.expr)
		if err != nil {
			return nil, err
		}
		if name, ok := stringValue(obj["name"].expr); ok {
			out["subnet"] = append(out["subnet"], name)
		}
	}
	zones, err := network.objectKeys(network.locals["private_dns_zones"].Expr)
	if err != nil {
		return nil, err
	}
	for _, e := range zones {
		if name, ok := stringValue(e.expr); ok {
			out["private DNS zone"] = append(out["private DNS zone"], name)
		}
	}
	root, err := loadModule(rootDir)
	if err != nil {
		return nil, err
	}
	src := func(e hclsyntax.Expression) string {
		r := e.Range()
		b, _ := os.ReadFile(r.Filename)
		return strings.Trim(string(b[r.Start.Byte:r.End.Byte]), `"`)
	}
	for _, id := range root.resources("azurerm_user_assigned_identity") {
		out["identity"] = append(out["identity"], src(id.Body.Attributes["name"].Expr))
	}
	for _, body := range root.bodies {
		for _, b := range body.Blocks {
			if b.Type != "module" || len(b.Labels) != 1 || b.Labels[0] != "firewall" {
				continue
			}
			groups, err := root.objectKeys(b.Body.Attributes["source_prefixes"].Expr)
			if err != nil {
				return nil, err
			}
			for k := range groups {
				out["IP group"] = append(out["IP group"], "ipg-"+k)
			}
		}
	}
	return out, nil
}

// checkNames returns the names of want that the Terraform does not create,
// or that the guide does not list.
func checkNames(created map[string][]string, guide string, want map[string][]string) []string {
	var p problems
	for kind, names := range want {
		for _, n := range names {
			found := false
			for _, c := range created[kind] {
				found = found || c == n
			}
			if !found {
				p.addf("%s %s: AzureTRE's bundles look it up, but infra does not create it", kind, n)
			}
			shown := strings.ReplaceAll(n, "${var.tre_id}", "<tre_id>")
			if !strings.Contains(guide, "`"+shown+"`") {
				p.addf("%s %s: not listed in docs/deploy.md", kind, shown)
			}
		}
	}
	return p.sorted()
}

func TestCoreHasAzureTREsNames(t *testing.T) {
	created, err := coreNames(networkModule, infraDir)
	require.NoError(t, err)
	guide, err := os.ReadFile(repoRoot + "/docs/deploy.md")
	require.NoError(t, err)
	require.Empty(t, checkNames(created, string(guide), azureTRENames))
}
