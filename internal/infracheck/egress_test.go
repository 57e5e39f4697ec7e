package infracheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/porter"
)

// What the deployment needs from the network and the identities, checked
// in the Terraform: the egress each core workload needs through the
// firewall (its subnets' default route goes there), the processor's
// download hosts, the Key Vault secrets Porter reads, the roles the
// processor has as AzureTRE's, and a reason for every role assignment.

const (
	firewallModule = "../../infra/modules/firewall"
	networkModule  = "../../infra/modules/network"
	rolesFile      = "../../infra/roles.tf"
)

// flow is egress allowed by a network rule: from a core IP group (by
// role) to a destination (a service tag) on a TCP port.
type flow struct{ source, dest, port string }

// requiredEgress are the flows the core's programs need, with why.
var requiredEgress = map[flow]string{
	{"web-app", "AzureResourceManager", "443"}:            "the firewall service reads the Firewall Policy and IP groups and writes rule collection groups through ARM",
	{"web-app", "AzureActiveDirectory", "443"}:            "the handler fetches Entra ID's token signing keys",
	{"web-app", "AzureMonitor", "443"}:                    "the Functions host sends the handler's traces to Application Insights",
	{"resource-processor", "AzureActiveDirectory", "443"}: "az login and bundles sign in with the VM's identity",
	{"resource-processor", "AzureResourceManager", "443"}: "bundles deploy through ARM",
	{"resource-processor", "AzureMonitor", "443"}:         "the Azure Monitor agent ships the agent's journal",
}

// networkFlows returns the TCP flows the network rules of the module's
// rule collection groups allow, with where each rule is.
func networkFlows(dir string) (map[flow]string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	out := map[flow]string{}
	for _, g := range m.resources("azurerm_firewall_policy_rule_collection_group") {
		for _, coll := range g.Body.Blocks {
			if coll.Type != "network_rule_collection" {
				continue
			}
			for _, rule := range coll.Body.Blocks {
				if rule.Type != "rule" {
					continue
				}
				where := fmt.Sprintf("%s:%d", filepath.Base(rule.DefRange().Filename), rule.DefRange().Start.Line)
				protocols, _ := stringList(rule.Body.Attributes["protocols"].Expr)
				if !slices.Contains(protocols, "TCP") {
					continue
				}
				ports, _ := stringList(rule.Body.Attributes["destination_ports"].Expr)
				var dests []string
				if a, ok := rule.Body.Attributes["destination_addresses"]; ok {
					tuple, ok := a.Expr.(*hclsyntax.TupleConsExpr)
					if !ok {
						return nil, fmt.Errorf("%s: destination_addresses is not a list", where)
					}
					for _, e := range tuple.Exprs {
						// "AzureKeyVault.${var.location}" counts as
						// AzureKeyVault.<region>.
						dests = append(dests, exprSource(e))
					}
				}
				for _, src := range ipGroupRoles(rule.Body.Attributes["source_ip_groups"]) {
					for _, d := range dests {
						for _, p := range ports {
							out[flow{src, d, p}] = where
						}
					}
				}
			}
		}
	}
	return out, nil
}

// ipGroupRoles returns the roles of azurerm_ip_group.core["<role>"]
// references in a source_ip_groups list.
func ipGroupRoles(a *hclsyntax.Attribute) []string {
	if a == nil {
		return nil
	}
	var out []string
	hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if ix, ok := n.(*hclsyntax.IndexExpr); ok {
			if t, ok := ix.Collection.(*hclsyntax.ScopeTraversalExpr); ok && t.Traversal.RootName() == "azurerm_ip_group" {
				if k, ok := stringValue(ix.Key); ok {
					out = append(out, k)
				}
			}
		}
		if t, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && t.Traversal.RootName() == "azurerm_ip_group" {
			for _, step := range t.Traversal {
				if ix, ok := step.(hcl.TraverseIndex); ok && ix.Key.Type().FriendlyName() == "string" {
					out = append(out, ix.Key.AsString())
				}
			}
		}
		return nil
	})
	return out
}

// checkEgress returns the required flows no rule allows.
func checkEgress(flows map[flow]string, required map[flow]string) []string {
	var p problems
	for f, why := range required {
		if _, ok := flows[f]; !ok {
			p.addf("%s cannot reach %s on TCP %s: %s", f.source, f.dest, f.port, why)
		}
	}
	return p.sorted()
}

// routedThroughFirewall returns the subnets (by role) whose default route
// is the firewall, from the network module's route table associations.
func routedThroughFirewall(dir string) ([]string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	assoc := m.resources("azurerm_subnet_route_table_association")
	if len(assoc) != 1 {
		return nil, fmt.Errorf("%s: want one route table association (for_each over subnets), found %d", dir, len(assoc))
	}
	keys, err := m.objectKeys(assoc[0].Body.Attributes["for_each"].Expr)
	if err != nil {
		return nil, err
	}
	return sortedKeys(keys), nil
}

func TestHandlerAndProcessorReachAzure(t *testing.T) {
	// Why the rules matter: the Function App sends every outbound call into
	// the VNet, and its subnet and the processor's route to the firewall,
	// which denies what no rule allows.
	routed, err := routedThroughFirewall(networkModule)
	require.NoError(t, err)
	require.Subset(t, routed, []string{"functions", "processor"})
	app, err := loadModule(functionApp)
	require.NoError(t, err)
	fa := app.resources("azurerm_linux_function_app")
	require.Len(t, fa, 1)
	all, ok := stringValue(nestedBlock(fa[0].Body, "site_config").Body.Attributes["vnet_route_all_enabled"].Expr)
	require.True(t, ok)
	require.Equal(t, "true", all)

	flows, err := networkFlows(firewallModule)
	require.NoError(t, err)
	require.Empty(t, checkEgress(flows, requiredEgress))
}

// processorDownloads are the hosts the processor VM fetches from, and why:
// what cloud-init installs and what Porter fetches for itself, its mixins
// and its plugin. Nothing else: bundles bring Terraform and its providers
// in their images (the terraform mixin mirrors them at build), and their
// images come from the TRE's registry through its private endpoint.
var processorDownloads = map[string]string{
	"azure.archive.ubuntu.com":             "apt: Ubuntu's packages (docker.io, curl, gnupg, ...) from Azure's mirror",
	"security.ubuntu.com":                  "apt: Ubuntu's security updates",
	"packages.microsoft.com":               "apt: the Azure CLI (az login, az acr login, the package download) and its signing key",
	"cdn.porter.sh":                        "Porter's binary, and the mixin and plugin feeds and downloads",
	"raw.githubusercontent.com":            "cdn.porter.sh redirects the mixin and plugin feeds (atom.xml) here",
	"github.com":                           "cdn.porter.sh redirects Porter's, the mixins' and the plugin's binaries to GitHub releases",
	"objects.githubusercontent.com":        "GitHub serves release assets from here",
	"release-assets.githubusercontent.com": "GitHub serves release assets from here",
}

// checkProcessorDownloads compares the default of the root variable
// processor_egress_fqdns with the hosts the processor needs.
func checkProcessorDownloads(dir string, want map[string]string) ([]string, error) {
	vars, err := readVariables(dir)
	if err != nil {
		return nil, err
	}
	v, ok := vars["processor_egress_fqdns"]
	if !ok || v.def == nil {
		return nil, fmt.Errorf("%s: no processor_egress_fqdns with a default", dir)
	}
	var p problems
	var got []string
	for _, e := range v.def.AsValueSlice() {
		got = append(got, e.AsString())
	}
	for _, h := range got {
		if _, ok := want[h]; !ok {
			p.addf("processor_egress_fqdns allows %s, which neither cloud-init nor Porter fetches from", h)
		}
	}
	for h, why := range want {
		if !slices.Contains(got, h) {
			p.addf("processor_egress_fqdns lacks %s: %s", h, why)
		}
	}
	return p.sorted(), nil
}

func TestProcessorEgressIsWhatItDownloads(t *testing.T) {
	got, err := checkProcessorDownloads(infraDir, processorDownloads)
	require.NoError(t, err)
	require.Empty(t, got)
	// cloud-init's own downloads are among them.
	b, err := os.ReadFile(cloudInitFile)
	require.NoError(t, err)
	for _, url := range regexp.MustCompile(`https://([a-z0-9.-]+)/`).FindAllStringSubmatch(string(b), -1) {
		require.Contains(t, processorDownloads, url[1], "cloud-init.yaml downloads from %s", url[1])
	}
}

// porterSecrets are the Key Vault secrets Porter reads: ${secret.NAME} in
// its config.yaml and the secret sources of its credential sets.
func porterSecrets() []string {
	var out []string
	for _, m := range regexp.MustCompile(`\$\{\s*secret\.([A-Za-z0-9-]+)\s*\}`).FindAllStringSubmatch(string(porter.DefaultConfigFile()), -1) {
		out = append(out, m[1])
	}
	for _, cs := range porter.AzureTRECredentialSets() {
		for _, c := range cs.Credentials {
			if c.Source.Secret != "" {
				out = append(out, c.Source.Secret)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkVaultSecrets returns the secrets in want that no
// azurerm_key_vault_secret of the module in dir creates.
func checkVaultSecrets(dir string, want []string) ([]string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	created := map[string]bool{}
	for _, r := range m.resources("azurerm_key_vault_secret") {
		if a, ok := r.Body.Attributes["name"]; ok {
			if name, ok := stringValue(a.Expr); ok {
				created[name] = true
			}
		}
	}
	var p problems
	for _, s := range want {
		if !created[s] {
			p.addf("Porter reads the Key Vault secret %s, but infra does not create it", s)
		}
	}
	return p.sorted(), nil
}

func TestInfraCreatesTheSecretsPorterReads(t *testing.T) {
	want := porterSecrets()
	require.Equal(t, []string{"application-admin-client-id", "application-admin-client-secret", "auth-tenant-id", "porter-db-connection-string"}, want)
	got, err := checkVaultSecrets(infraDir, want)
	require.NoError(t, err)
	require.Empty(t, got)
}

// roleAssignment is a role assignment block of roles.tf.
type roleAssignment struct {
	name, role, scope, principal, where string
	reasoned                            bool // a comment just above it
}

func readRoleAssignments(path string) ([]roleAssignment, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags.Error())
	}
	lines := strings.Split(string(src), "\n")
	text := func(e hclsyntax.Expression) string {
		r := e.Range()
		return strings.TrimSpace(string(src[r.Start.Byte:r.End.Byte]))
	}
	var out []roleAssignment
	for _, b := range file.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "resource" || len(b.Labels) != 2 || !strings.HasSuffix(b.Labels[0], "role_assignment") {
			continue
		}
		ra := roleAssignment{name: b.Labels[1], where: fmt.Sprintf("%s:%d", filepath.Base(path), b.DefRange().Start.Line)}
		if a, ok := b.Body.Attributes["role_definition_name"]; ok {
			ra.role = text(a.Expr)
			if s, ok := stringValue(a.Expr); ok {
				ra.role = s
			}
		}
		if a, ok := b.Body.Attributes["scope"]; ok {
			ra.scope = text(a.Expr)
		}
		if a, ok := b.Body.Attributes["principal_id"]; ok {
			ra.principal = text(a.Expr)
		}
		line := b.DefRange().Start.Line - 2 // the line above, 0-based
		ra.reasoned = line >= 0 && strings.HasPrefix(strings.TrimSpace(lines[line]), "#")
		out = append(out, ra)
	}
	return out, nil
}

// processorRoles are the roles AzureTRE grants its processor identity
// (core/terraform/resource_processor/vmss_porter/main.tf) that are
// granted here as they are there: role => scope. (Its Service Bus and
// storage data roles are narrowed here to the queue and container each is
// for.)
var processorRoles = map[string]string{
	"Contributor":               `"/subscriptions/${var.subscription_id}"`,
	"User Access Administrator": `"/subscriptions/${var.subscription_id}"`,
	"Key Vault Administrator":   `module.keyvault.id`,
	"AcrPull":                   `module.registry.id`,
}

// checkRoles returns role assignments without a reason, and processor
// roles of want that roles.tf does not grant.
func checkRoles(assignments []roleAssignment, want map[string]string) []string {
	var p problems
	for _, ra := range assignments {
		if !ra.reasoned {
			p.addf("%s (%s): say why above it", ra.name, ra.where)
		}
	}
	for role, scope := range want {
		found := slices.ContainsFunc(assignments, func(ra roleAssignment) bool {
			return ra.role == role && ra.scope == scope && ra.principal == "azurerm_user_assigned_identity.processor.principal_id"
		})
		if !found {
			p.addf("the processor lacks %s on %s, which AzureTRE grants its processor", role, scope)
		}
	}
	return p.sorted()
}

func TestProcessorHasAzureTREsRoles(t *testing.T) {
	assignments, err := readRoleAssignments(rolesFile)
	require.NoError(t, err)
	require.NotEmpty(t, assignments)
	require.Empty(t, checkRoles(assignments, processorRoles))
}
