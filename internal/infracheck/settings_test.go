package infracheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
)

// handlerNotInAzure are settings the handler reads that Terraform must not
// set in Azure, and why. An entry the handler no longer has is a problem
// (the list must not rot).
var handlerNotInAzure = map[string]string{
	"TRE_DATA_DIR":                  "holds the embedded SQLite store, the file secret store and the dev issuer's key: none is used with the Azure adapters and Entra ID",
	"TRE_SWEEP_INTERVAL":            "local mode's timer; in Azure the dispatch-redelivery function.json schedule decides",
	"TRE_WATCHDOG_INTERVAL":         "local mode's timer; in Azure the operations-watchdog function.json schedule decides",
	"TRE_UPGRADE_INTERVAL":          "local mode's timer; in Azure the upgrade-batches function.json schedule decides",
	"TRE_TEMPLATES_DIR":             "local mode: bundles for the local runner; in Azure templates are registered with scripts/register-bundle.sh",
	"TRE_REGISTER_TEMPLATES":        "local mode: start-up registration from TRE_TEMPLATES_DIR",
	"TRE_PROCESSOR_WORKERS":         "local mode: the in-process processor; in Azure the processor VM's NUMBER_PROCESSES",
	"TRE_PROCESSOR_HEARTBEAT":       "local mode: the in-process processor; in Azure the VM's RP_HEARTBEAT_INTERVAL",
	"TRE_SIMULATE_BUNDLES":          "local mode: the in-process processor's simulation of bundles; refused with the Azure adapters",
	"TRE_DRAIN_TIMEOUT":             "local mode: the in-process processor's drain; in Azure the VM's RP_DRAIN_TIMEOUT",
	"TRE_QUEUE_LOCK_DURATION":       "local mode: the embedded queue; in Azure the queues' lock_duration (infra/modules/servicebus)",
	"TRE_QUEUE_MAX_DELIVERY":        "local mode: the embedded queue; in Azure the queues' max_delivery_count (infra/modules/servicebus)",
	"STATE_STORE_KEY":               "tests against a local Cosmos-protocol server; in Azure the managed identity (the account refuses keys)",
	"SERVICE_BUS_CONNECTION_STRING": "tests against a local broker; in Azure the managed identity (the namespace refuses keys)",
	"TRE_FIREWALL_FILE":             "TRE_FIREWALL=file only (one machine); in Azure TRE_FIREWALL=azure",
	"TRE_FIREWALL_INTERVAL":         "local mode's timer; in Azure the firewall-reconcile function.json schedule decides",
	"TRE_AIRLOCK_BLOB_ENDPOINT":     "TRE_AIRLOCK_STORAGE=endpoint only (one account: Azurite on one machine); in Azure TRE_AIRLOCK_STORAGE=azure",
	"TRE_AIRLOCK_BLOB_ACCOUNT":      "TRE_AIRLOCK_STORAGE=endpoint only",
	"TRE_AIRLOCK_BLOB_KEY":          "TRE_AIRLOCK_STORAGE=endpoint only; in Azure the accounts refuse keys (links are signed with user delegation keys)",
	"TRE_AIRLOCK_SWEEP_INTERVAL":    "local mode's timer; in Azure the airlock-sweep function.json schedule decides",
	"TRE_DEV_ISSUER":                "allows the dev token issuer beside Azure settings, for tests against local protocol servers; in Azure tokens come from Entra ID (AAD_TENANT_ID)",
	"TRE_TRIGGER_KEY":               "the trigger routes behind the Functions host answer loopback peers only; the host cannot send a key, so setting one would refuse its invocations",
}

// handlerPlatform are settings the platform sets for the handler, whether or
// not the table marks them so.
var handlerPlatform = map[string]string{
	"FUNCTIONS_CUSTOMHANDLER_PORT": "the Functions host picks a free port and passes it to the handler",
	"WEBSITE_INSTANCE_ID":          "App Service sets it on every instance",
}

// handlerPending are settings Terraform sets ahead of the code that reads
// them. Once the handler reads one, it is a problem until it is removed from
// here (and then checked like any other).
// (Empty now: TRE_FIREWALL_POLICY_ID and TRE_FIREWALL_GROUP_PREFIX were
// here until the firewall service read them.)
var handlerPending = map[string]string{}

// hostSettings are the app settings of the Functions host and App Service,
// read by them and not by the handler. Each must be set: the host does not
// start, or does something else, without it.
var hostSettings = map[string]string{
	"FUNCTIONS_WORKER_RUNTIME":                      "the host runs a custom handler (host.json customHandler): custom",
	"FUNCTIONS_EXTENSION_VERSION":                   "the Functions runtime's major version (~4)",
	"AzureWebJobsStorage__accountName":              "the host's storage (timer schedules and leases, host keys), identity-based",
	"AzureWebJobsStorage__credential":               "the host's storage with a managed identity",
	"AzureWebJobsStorage__clientId":                 "the host's storage with the user-assigned identity (not a system-assigned one)",
	"ServiceBusConnection__fullyQualifiedNamespace": "the deployment-status trigger's identity-based connection (function.json connection ServiceBusConnection)",
	"ServiceBusConnection__credential":              "that connection with a managed identity",
	"ServiceBusConnection__clientId":                "that connection with the user-assigned identity",
	"APPLICATIONINSIGHTS_CONNECTION_STRING":         "the host's telemetry (the handler's traces) to Application Insights",
	"WEBSITE_RUN_FROM_PACKAGE":                      "App Service runs the zip scripts/deploy.sh deploys, read-only",
	"AzureWebJobsDisableHomepage":                   "the root is the web UI (functions/ui), never the host's default page",
	"AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__isEnabled": "overrides host.json: no sampling, an operation's traces must all be kept",
}

// processorNotInAzure are settings the agent reads that Terraform must not
// decide for the VM, and why. processor.env.template may still carry them
// with a fixed value (it has a line for every setting); a test-only one it
// may leave out.
var processorNotInAzure = map[string]string{
	"TRE_DATA_DIR":                  "local mode: the embedded queue and the file secret store, shared with a local handler",
	"TRE_TEMPLATES_DIR":             "the local runner's bundles; the VM runs the porter runner",
	"TRE_QUEUE_LOCK_DURATION":       "local mode: the embedded queue; the VM uses Service Bus, whose queues' lock_duration decides",
	"SERVICE_BUS_CONNECTION_STRING": "tests against a local broker; on the VM the identity (the namespace refuses keys)",
}

// processorTestOnly are settings the env file must not carry at all.
var processorTestOnly = map[string]bool{"SERVICE_BUS_CONNECTION_STRING": true}

// cloudInitInputs are template variables of cloud-init.yaml that are not
// settings of the agent, and why Terraform passes them.
// (Empty: cloud-init.yaml fetches the agent's package with the VM's
// identity, from a place its settings name.)
var cloudInitInputs = map[string]string{}

// processorBundlePrefix: RP_BUNDLE_<X> variables are read by prefix and
// passed to bundles as the parameter <x> (AzureTRE's convention).
const processorBundlePrefix = "RP_BUNDLE_"

// functionAppSettings returns every app setting the Function App of the
// module in dir gets, with where it is set: its app_settings, and the
// settings the azurerm provider derives from its attributes (their source
// is given as "attribute ...").
func functionAppSettings(dir string) (map[string]string, []string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, nil, err
	}
	apps := m.resources("azurerm_linux_function_app")
	if len(apps) != 1 {
		return nil, nil, fmt.Errorf("%s: want one azurerm_linux_function_app, found %d", dir, len(apps))
	}
	body := apps[0].Body
	out := map[string]string{}
	var problems []string
	if a, ok := body.Attributes["app_settings"]; ok {
		keys, err := m.objectKeys(a.Expr)
		if err != nil {
			return nil, nil, err
		}
		for k, e := range keys {
			out[k] = e.String()
		}
	}
	derive := func(name, from string) {
		if where, dup := out[name]; dup {
			problems = append(problems, fmt.Sprintf("%s (%s): the provider sets it from %s; set it there only", name, where, from))
			return
		}
		out[name] = "attribute " + from
	}
	isTrue := func(b *hclsyntax.Body, name string) bool {
		a, ok := b.Attributes[name]
		if !ok {
			return false
		}
		v, ok := stringValue(a.Expr)
		return ok && v == "true"
	}
	if _, ok := body.Attributes["functions_extension_version"]; ok {
		derive("FUNCTIONS_EXTENSION_VERSION", "functions_extension_version")
	}
	if _, ok := body.Attributes["storage_account_name"]; ok {
		if isTrue(body, "storage_uses_managed_identity") {
			derive("AzureWebJobsStorage__accountName", "storage_account_name with storage_uses_managed_identity")
		} else {
			derive("AzureWebJobsStorage", "storage_account_name with an access key")
		}
	}
	if a, ok := body.Attributes["builtin_logging_enabled"]; !ok || func() bool { v, ok := stringValue(a.Expr); return !ok || v != "false" }() {
		derive("AzureWebJobsDashboard", "builtin_logging_enabled (true unless set to false)")
	}
	if sc := nestedBlock(body, "site_config"); sc != nil {
		if _, ok := sc.Body.Attributes["application_insights_connection_string"]; ok {
			derive("APPLICATIONINSIGHTS_CONNECTION_STRING", "site_config.application_insights_connection_string")
		}
		if _, ok := sc.Body.Attributes["application_insights_key"]; ok {
			derive("APPINSIGHTS_INSTRUMENTATIONKEY", "site_config.application_insights_key")
		}
		if _, ok := sc.Body.Attributes["health_check_eviction_time_in_min"]; ok {
			derive("WEBSITE_HEALTHCHECK_MAXPINGFAILURES", "site_config.health_check_eviction_time_in_min")
		}
		if st := nestedBlock(sc.Body, "application_stack"); st != nil && isTrue(st.Body, "use_custom_runtime") {
			derive("FUNCTIONS_WORKER_RUNTIME", "site_config.application_stack.use_custom_runtime")
		}
	}
	return out, problems, nil
}

// functionConnections returns the connection setting prefixes of every
// binding in functionsDir/*/function.json, with the file that uses each.
func functionConnections(functionsDir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(functionsDir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no function.json", functionsDir)
	}
	out := map[string]string{}
	for _, f := range files {
		var fn struct {
			Bindings []map[string]any `json:"bindings"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &fn); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, bd := range fn.Bindings {
			if c, ok := bd["connection"].(string); ok && c != "" {
				out[c] = f
			}
		}
	}
	return out, nil
}

// checkHandlerSettings compares the handler's settings table with the app
// settings Terraform gives the Function App, and the function.json
// connections with the host settings.
func checkHandlerSettings(table []setting, app map[string]string, connections map[string]string) []string {
	var p problems
	byName := names(table)
	for _, s := range table {
		where, set := app[s.Name]
		_, local := handlerNotInAzure[s.Name]
		_, platform := handlerPlatform[s.Name]
		switch {
		case s.Platform || platform:
			if set {
				p.addf("%s (%s): set by infra, but the platform sets it (%s)", s.Name, where, orDefault(handlerPlatform[s.Name], "marked so in the settings table"))
			}
		case local:
			if set {
				p.addf("%s (%s): set by infra, but the handler does not read it in Azure: %s", s.Name, where, handlerNotInAzure[s.Name])
			}
		case !set:
			p.addf("%s: the handler reads it in Azure, but infra does not set it", s.Name)
		}
		if _, pending := handlerPending[s.Name]; pending {
			p.addf("%s: the handler reads it now: remove it from handlerPending", s.Name)
		}
	}
	for name, where := range app {
		_, read := byName[name]
		_, host := hostSettings[name]
		_, pending := handlerPending[name]
		if !read && !host && !pending {
			p.addf("%s (%s): set by infra, but neither the handler nor the Functions host reads it", name, where)
		}
	}
	for name, why := range hostSettings {
		if _, set := app[name]; !set {
			p.addf("%s: the Functions host needs it (%s), but infra does not set it", name, why)
		}
		if prefix, _, ok := strings.Cut(name, "__"); ok && !strings.HasPrefix(name, "AzureWebJobsStorage__") && !strings.HasPrefix(name, "AzureFunctionsJobHost__") {
			if _, used := connections[prefix]; !used {
				p.addf("%s: no function.json binding uses the connection %s (stale host setting)", name, prefix)
			}
		}
	}
	for conn, file := range connections {
		for _, suffix := range []string{"__fullyQualifiedNamespace", "__credential", "__clientId"} {
			if _, set := app[conn+suffix]; !set {
				p.addf("%s%s: %s uses the identity-based connection %s, but infra does not set it", conn, suffix, file, conn)
			}
		}
	}
	for name := range handlerNotInAzure {
		if _, ok := byName[name]; !ok {
			p.addf("%s: listed in handlerNotInAzure, but the handler has no such setting", name)
		}
	}
	for name := range handlerPlatform {
		if _, ok := byName[name]; !ok {
			p.addf("%s: listed in handlerPlatform, but the handler has no such setting", name)
		}
	}
	for name := range handlerPending {
		if _, set := app[name]; !set {
			p.addf("%s: listed in handlerPending, but infra does not set it", name)
		}
	}
	return p.sorted()
}

// processorTemplateVars returns the variables Terraform passes to the
// processor's cloud-init template (the templatefile() call on
// cloud-init.yaml in the module in dir), with where each is set.
func processorTemplateVars(dir string) (map[string]string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	var calls []*hclsyntax.FunctionCallExpr
	for _, body := range m.bodies {
		for _, c := range findCalls(body, "templatefile") {
			if len(c.Args) == 2 && strings.Contains(exprSource(c.Args[0]), "cloud-init.yaml") {
				calls = append(calls, c)
			}
		}
	}
	if len(calls) != 1 {
		return nil, fmt.Errorf("%s: want one templatefile() of cloud-init.yaml, found %d", dir, len(calls))
	}
	keys, err := m.objectKeys(calls[0].Args[1])
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, e := range keys {
		out[k] = e.String()
	}
	return out, nil
}

// exprSource returns the literal parts of a template expression (the path
// of templatefile), enough to recognise a file name.
func exprSource(e hclsyntax.Expression) string {
	var b strings.Builder
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok {
			if s, ok := stringValue(lit); ok {
				b.WriteString(s)
			}
		}
		return nil
	})
	return b.String()
}

// templatePlaceholders returns the variables a templatefile() template
// refers to (what Terraform requires in its vars).
func templatePlaceholders(path string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	expr, diags := hclsyntax.ParseTemplate(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %s", path, diags.Error())
	}
	seen := map[string]bool{}
	for _, t := range expr.Variables() {
		seen[t.RootName()] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// envTemplate returns the variables an environment file template assigns
// (NAME=value lines; comments and blank lines skipped), with their values as
// written.
func envTemplate(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%s:%d: not a NAME=value line: %q", path, i+1, line)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is set twice", path, i+1, name)
		}
		out[name] = value
	}
	return out, nil
}

// checkProcessorSettings compares the agent's settings table with the
// variables Terraform passes to cloud-init.yaml, the template's placeholders
// and the agent's environment file template (name => value as written).
func checkProcessorSettings(table []setting, vars map[string]string, placeholders []string, env map[string]string) []string {
	var p problems
	byName := names(table)
	used := map[string]bool{}
	for _, name := range placeholders {
		used[name] = true
		if _, ok := vars[name]; !ok {
			p.addf("%s: cloud-init.yaml uses ${%s}, but infra does not pass it (templatefile would fail)", name, name)
		}
	}
	for name, where := range vars {
		_, setting := byName[name]
		_, input := cloudInitInputs[name]
		switch {
		case !used[name]:
			p.addf("%s (%s): passed to cloud-init by infra, but cloud-init.yaml does not use it: nobody reads it", name, where)
		case !setting && !input && !strings.HasPrefix(name, processorBundlePrefix):
			p.addf("%s (%s): passed to cloud-init by infra, but it is neither a setting of the agent nor an input of cloud-init", name, where)
		}
		if why, local := processorNotInAzure[name]; local {
			p.addf("%s (%s): passed by infra, but the agent does not read it on the VM: %s", name, where, why)
		}
	}
	for _, s := range table {
		_, inEnv := env[s.Name]
		_, local := processorNotInAzure[s.Name]
		switch {
		case processorTestOnly[s.Name] && inEnv:
			p.addf("%s: processor.env.template sets it, but it is for tests only: %s", s.Name, processorNotInAzure[s.Name])
		case !inEnv && !local && !s.Platform:
			p.addf("%s: the agent reads it on the VM, but processor.env.template does not set it", s.Name)
		}
	}
	for name := range env {
		if _, read := byName[name]; !read && !strings.HasPrefix(name, processorBundlePrefix) {
			p.addf("%s: processor.env.template sets it, but the agent does not read it", name)
		}
	}
	for name := range processorNotInAzure {
		if _, ok := byName[name]; !ok {
			p.addf("%s: listed in processorNotInAzure, but the agent has no such setting", name)
		}
	}
	for name := range cloudInitInputs {
		if !used[name] {
			p.addf("%s: listed in cloudInitInputs, but cloud-init.yaml does not use it", name)
		}
	}
	return p.sorted()
}

// problems collects what a check finds.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) sorted() []string {
	out := append([]string(nil), p...)
	sort.Strings(out)
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestHandlerSettingsMatchTerraform(t *testing.T) {
	app, derived, err := functionAppSettings(functionApp)
	require.NoError(t, err)
	require.Empty(t, derived)
	conns, err := functionConnections(functionsDir)
	require.NoError(t, err)
	require.Empty(t, checkHandlerSettings(handlerTable, app, conns),
		"the handler's settings (go run ./handlers settings) and infra/modules/functionapp must agree")
}

func TestProcessorSettingsMatchTerraform(t *testing.T) {
	vars, err := processorTemplateVars(processorVM)
	require.NoError(t, err)
	placeholders, err := templatePlaceholders(cloudInitFile)
	require.NoError(t, err, "infra/modules/processor renders processor-vm/cloud-init.yaml: it must exist and parse as a template")
	env, err := envTemplate(envTemplateFile)
	require.NoError(t, err)
	require.Empty(t, checkProcessorSettings(processorTable, vars, placeholders, env),
		"the agent's settings (go run ./processor-vm settings), infra/modules/processor and processor-vm/ must agree")
}
