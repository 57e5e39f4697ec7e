package infracheck

// Every check, run on a deliberately broken copy: each must report exactly
// what was broken, so none of them passes by failing to look.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// copyDir copies the files of src (recursively) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	require.NoError(t, err)
}

// edit replaces old (which must occur exactly once) in the file at path.
func edit(t *testing.T, path, old, replacement string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(b), old), "%s must contain %q once", path, old)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), old, replacement, 1)), 0o644))
}

// deleteLine removes the one line of the file that starts (after
// indentation) with prefix.
func deleteLine(t *testing.T, path, prefix string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), prefix) {
			n++
			continue
		}
		out = append(out, line)
	}
	require.Equal(t, 1, n, "%s must have one line starting with %q", path, prefix)
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644))
}

func TestHandlerCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, functionApp, dir)
	main := filepath.Join(dir, "main.tf")
	deleteLine(t, main, "LOG_LEVEL ")
	deleteLine(t, main, "ServiceBusConnection__clientId")
	edit(t, main, "    TRE_LOCAL_HOST      = \"false\"\n", "    TRE_LOCAL_HOST      = \"false\"\n    TRE_BOGUS           = \"x\"\n    TRE_SWEEP_INTERVAL  = \"10s\"\n")

	app, derived, err := functionAppSettings(dir)
	require.NoError(t, err)
	require.Empty(t, derived)
	conns, err := functionConnections(functionsDir)
	require.NoError(t, err)
	require.Equal(t, []string{
		"LOG_LEVEL: the handler reads it in Azure, but infra does not set it",
		"ServiceBusConnection__clientId: " + conns["ServiceBusConnection"] + " uses the identity-based connection ServiceBusConnection, but infra does not set it",
		"ServiceBusConnection__clientId: the Functions host needs it (that connection with the user-assigned identity), but infra does not set it",
		"TRE_BOGUS (main.tf:" + lineOf(t, main, "TRE_BOGUS") + "): set by infra, but neither the handler nor the Functions host reads it",
		"TRE_SWEEP_INTERVAL (main.tf:" + lineOf(t, main, "TRE_SWEEP_INTERVAL") + "): set by infra, but the handler does not read it in Azure: " + handlerNotInAzure["TRE_SWEEP_INTERVAL"],
	}, checkHandlerSettings(handlerTable, app, conns))
}

func TestFunctionAppDerivedSettingsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, functionApp, dir)
	main := filepath.Join(dir, "main.tf")
	// Set by hand what the provider sets, and leave builtin logging on.
	edit(t, main, "    WEBSITE_RUN_FROM_PACKAGE = \"1\"\n", "    WEBSITE_RUN_FROM_PACKAGE = \"1\"\n    FUNCTIONS_EXTENSION_VERSION = \"~4\"\n")
	deleteLine(t, main, "builtin_logging_enabled")
	app, derived, err := functionAppSettings(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"FUNCTIONS_EXTENSION_VERSION (main.tf:" + lineOf(t, main, "FUNCTIONS_EXTENSION_VERSION =") + "): the provider sets it from functions_extension_version; set it there only"}, derived)
	require.Contains(t, checkHandlerSettings(handlerTable, app, map[string]string{"ServiceBusConnection": "f"}),
		"AzureWebJobsDashboard (attribute builtin_logging_enabled (true unless set to false)): set by infra, but neither the handler nor the Functions host reads it")
}

func TestProcessorCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, processorVM, dir)
	main := filepath.Join(dir, "main.tf")
	deleteLine(t, main, "KEY_VAULT_URL ")
	edit(t, main, "    RP_RUNNER              = \"porter\"\n", "    RP_RUNNER              = \"porter\"\n    TRE_DATA_DIR           = \"/data\"\n")
	vars, err := processorTemplateVars(dir)
	require.NoError(t, err)
	placeholders, err := templatePlaceholders(cloudInitFile)
	require.NoError(t, err)
	env, err := envTemplate(envTemplateFile)
	require.NoError(t, err)
	where := "main.tf:" + lineOf(t, main, "TRE_DATA_DIR")
	require.Equal(t, []string{
		"KEY_VAULT_URL: cloud-init.yaml uses ${KEY_VAULT_URL}, but infra does not pass it (templatefile would fail)",
		"TRE_DATA_DIR (" + where + "): passed by infra, but the agent does not read it on the VM: " + processorNotInAzure["TRE_DATA_DIR"],
		"TRE_DATA_DIR (" + where + "): passed to cloud-init by infra, but cloud-init.yaml does not use it: nobody reads it",
	}, checkProcessorSettings(processorTable, vars, placeholders, env))

	// An env file template that misses a setting, and sets an unknown one.
	delete(env, "RP_RUNNER")
	env["RP_BOGUS"] = "1"
	vars, err = processorTemplateVars(processorVM)
	require.NoError(t, err)
	require.Equal(t, []string{
		"RP_BOGUS: processor.env.template sets it, but the agent does not read it",
		"RP_RUNNER: the agent reads it on the VM, but processor.env.template does not set it",
	}, checkProcessorSettings(processorTable, vars, placeholders, env))
}

func TestCosmosCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, cosmosModule, dir)
	main := filepath.Join(dir, "main.tf")
	deleteLine(t, main, "Leases ")
	edit(t, main, `ResourceHistory   = "/resourceId"`, `ResourceHistory   = "/id"`)
	got, err := checkCosmosContainers(dir, tre.Collections)
	require.NoError(t, err)
	require.Equal(t, []string{
		"container Leases: the store uses it, but infra does not create it (the managed identity cannot)",
		"container ResourceHistory (main.tf:" + lineOf(t, main, "ResourceHistory ") + "): partitioned by /id in infra, by /resourceId in the store",
	}, got)
}

func TestQueueCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, busModule, dir)
	main := filepath.Join(dir, "main.tf")
	edit(t, main, `lock_duration = "PT1M"`, `lock_duration = "PT30S"`)
	edit(t, main, `requires_session = true`, `requires_session = false`)
	q, err := readQueues(dir)
	require.NoError(t, err)
	got := checkQueues(q, map[string]bool{"deploymentstatus": true, "statusqueue": false}, "10", 20e9)
	require.Equal(t, []string{
		"a serviceBusTrigger reads queue statusqueue, which infra does not create",
		q.where + ": lock_duration \"PT30S\" must be at least twice the processor's RP_LOCK_RENEW_INTERVAL (20s)",
		q.where + ": requires_session must be true (the code receives by session)",
		"the serviceBusTrigger of statusqueue must set isSessionsEnabled (the queue requires sessions)",
	}, got)
}

func TestTerraformCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join(infraDir, "modules", "keyvault"), dir)
	main := filepath.Join(dir, "main.tf")
	// Misaligned "=" (terraform fmt aligns them), and a file that does not
	// parse.
	edit(t, main, `  sku_name                   = "standard"`, `  sku_name = "standard"`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.tf"), []byte("resource \"x\" \"y\" {\n  a = \n}\n"), 0o644))
	got, n, err := checkTerraformFiles(dir)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Len(t, got, 2)
	require.True(t, strings.HasPrefix(got[0], filepath.Join(dir, "broken.tf")+": does not parse: "), got[0])
	require.Equal(t, main+": not formatted (run terraform fmt)", got[1])
}

func TestPorterCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "shared_services", "gitea")
	copyDir(t, filepath.Join(templatesDir, "shared_services", "gitea"), svc)
	manifest := filepath.Join(svc, "porter.yaml")
	edit(t, manifest, "  - name: mirror_repositories\n", "  - name: repositories_to_mirror\n")
	got, err := checkPorterParameters(dir)
	require.NoError(t, err)
	require.Equal(t, []string{manifest + ": template_schema.json promises mirror_repositories, but porter.yaml declares no such parameter"}, got)
}

// lineOf returns the line number (as text) of the one line of the file
// that contains s.
func lineOf(t *testing.T, path, s string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	found := ""
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, s) {
			require.Empty(t, found, "%s has %q on more than one line", path, s)
			found = strconv.Itoa(i + 1)
		}
	}
	require.NotEmpty(t, found, "%s has no %q", path, s)
	return found
}

func TestCloudInitCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cloud-init.yaml")
	b, err := os.ReadFile(cloudInitFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	// packages must be a list; runcmd entries strings or lists.
	edit(t, path, "package_update: true\npackages:\n", "package_update: true\npackages: docker.io\nunused:\n")
	placeholders, err := templatePlaceholders(path)
	require.NoError(t, err)
	rendered, err := renderTemplate(path, placeholders)
	require.NoError(t, err)
	if !haveCloudInit(t) {
		return
	}
	require.Contains(t, checkCloudInitSchema(t, rendered), "packages: 'docker.io' is not of type 'array'")
}

func TestConstraintCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(infraDir, "variables.tf"))
	require.NoError(t, err)
	path := filepath.Join(dir, "variables.tf")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	// The retention range of Log Analytics (Application Insights takes
	// fewer values), and a zone list that forgets zone 3.
	edit(t, path, "contains([30, 60, 90, 120, 180, 270, 365, 550, 730], var.log_retention_days)", "var.log_retention_days >= 30 && var.log_retention_days <= 730")
	edit(t, path, `contains(["1", "2", "3"], z)`, `contains(["1", "2"], z)`)
	cases := map[string][]constraintCase{}
	for k, v := range constraintCases {
		cases[k] = v
	}
	delete(cases, "log_level")
	cases["no_such_variable"] = []constraintCase{{`1`, true, "x"}}
	got, err := checkConstraints(dir, cases)
	require.NoError(t, err)
	require.Equal(t, []string{
		`availability_zones = ["1", "2", "3"]: refused (availability_zones must be distinct zones among "1", "2" and "3", or empty in a region without zones.), but Azure accepts it: zone-redundant, in a region with zones`,
		"log_retention_days = 45: accepted, but Azure refuses it: Application Insights takes 30, 60, 90, 120, 180, 270, 365, 550 or 730 only",
		"variable log_level: no values Azure accepts and refuses are checked, and it is not listed as unconstrained",
		"variable no_such_variable: checked, but " + filepath.Base(dir) + " declares no such variable",
	}, got)
}

func TestEgressCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, firewallModule, dir)
	rules := filepath.Join(dir, "rules.tf")
	// The rule as it was before the handler needed ARM.
	edit(t, rules, `destination_addresses = ["AzureActiveDirectory", "AzureResourceManager", "AzureMonitor"]`, `destination_addresses = ["AzureActiveDirectory", "AzureMonitor"]`)
	flows, err := networkFlows(dir)
	require.NoError(t, err)
	require.Equal(t, []string{
		"web-app cannot reach AzureResourceManager on TCP 443: " + requiredEgress[flow{"web-app", "AzureResourceManager", "443"}],
	}, checkEgress(flows, requiredEgress))
}

func TestProcessorDownloadsCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(infraDir, "variables.tf"))
	require.NoError(t, err)
	path := filepath.Join(dir, "variables.tf")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	edit(t, path, "    \"raw.githubusercontent.com\",\n", "    \"download.docker.com\",\n")
	got, err := checkProcessorDownloads(dir, processorDownloads)
	require.NoError(t, err)
	require.Equal(t, []string{
		"processor_egress_fqdns allows download.docker.com, which neither cloud-init nor Porter fetches from",
		"processor_egress_fqdns lacks raw.githubusercontent.com: " + processorDownloads["raw.githubusercontent.com"],
	}, got)
}

func TestVaultSecretsCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(infraDir, "secrets.tf"))
	require.NoError(t, err)
	path := filepath.Join(dir, "secrets.tf")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	edit(t, path, `name         = "auth-tenant-id"`, `name         = "aad-tenant-id"`)
	got, err := checkVaultSecrets(dir, porterSecrets())
	require.NoError(t, err)
	require.Equal(t, []string{"Porter reads the Key Vault secret auth-tenant-id, but infra does not create it"}, got)
}

func TestRolesCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "roles.tf")
	b, err := os.ReadFile(rolesFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	// AzureTRE's vault role narrowed, and a reason dropped.
	edit(t, path, `role_definition_name             = "Key Vault Administrator"`, `role_definition_name             = "Key Vault Secrets Officer"`)
	edit(t, path, "# That role, for the handler, on the core resource group (the policy's and\n# the IP groups').\n", "")
	assignments, err := readRoleAssignments(path)
	require.NoError(t, err)
	require.Equal(t, []string{
		"api_firewall (roles.tf:" + lineOf(t, path, `"api_firewall"`) + "): say why above it",
		"the processor lacks Key Vault Administrator on module.keyvault.id, which AzureTRE grants its processor",
	}, checkRoles(assignments, processorRoles))
}

func TestNamesCheckFailsOnBrokenCopy(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, networkModule, dir)
	edit(t, filepath.Join(dir, "main.tf"), `name = "SharedSubnet"`, `name = "snet-shared-services"`)
	created, err := coreNames(dir, infraDir)
	require.NoError(t, err)
	require.Equal(t, []string{
		"identity id-vmss-<tre_id>: not listed in docs/deploy.md",
		"subnet SharedSubnet: AzureTRE's bundles look it up, but infra does not create it",
	}, checkNames(created, "the guide lists `SharedSubnet` only", map[string][]string{
		"subnet":   {"SharedSubnet"},
		"identity": {"id-vmss-${var.tre_id}"},
	}))
}
