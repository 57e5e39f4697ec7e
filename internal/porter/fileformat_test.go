package porter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The files the runner gives porter, checked against Porter v1.4's
// documented formats (porter.sh/docs/configuration/configuration,
// porter.sh/plugins/mongodb, porter.sh/plugins/azure,
// porter.sh/reference/file-formats/credential-set/1.0.1 and its JSON
// schema, credential-set.schema.json). Each check returns every problem
// it finds; the broken variants below show that each can fail.

// credentialSetKeys are the properties the credential set schema allows
// (additionalProperties: false), and the required ones.
var (
	credentialSetKeys     = []string{"name", "namespace", "created", "modified", "labels", "credentials", "custom", "schemaType", "schemaVersion"}
	credentialSetRequired = []string{"name", "credentials", "schemaVersion"}
	// Porter's Validate accepts these sources; the schema's valueMapping
	// has name and source only, both required.
	credentialSources = []string{"command", "env", "path", "secret", "value"}
)

// checkCredentialSet checks a credential set document as porter
// credentials apply reads it. Porter 1.4 supports schemaVersion 1.0.1
// only, and its default schema-check is exact.
func checkCredentialSet(doc []byte) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return []string{"not a JSON object: " + err.Error()}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		if !slices.Contains(credentialSetKeys, k) {
			add("property %s is not in the schema", k)
		}
	}
	for _, k := range credentialSetRequired {
		if _, ok := m[k]; !ok {
			add("property %s is required", k)
		}
	}
	for _, k := range []string{"name", "namespace", "created", "modified", "schemaType", "schemaVersion"} {
		if v, ok := m[k]; ok {
			if _, isString := v.(string); !isString {
				add("property %s must be a string", k)
			}
		}
	}
	if v, ok := m["schemaVersion"]; ok && v != "1.0.1" {
		add("schemaVersion %v: porter 1.4 supports 1.0.1", v)
	}
	if v, ok := m["schemaType"]; ok && v != "CredentialSet" {
		add("schemaType %v: want CredentialSet", v)
	}
	if name, _ := m["name"].(string); name == "" {
		add("name must not be empty")
	}
	creds, ok := m["credentials"].([]any)
	if !ok && m["credentials"] != nil {
		add("credentials must be an array")
	}
	seen := map[string]bool{}
	for i, c := range creds {
		cm, ok := c.(map[string]any)
		if !ok {
			add("credentials[%d] must be an object", i)
			continue
		}
		for k := range cm {
			if k != "name" && k != "source" {
				add("credentials[%d]: property %s is not in the schema", i, k)
			}
		}
		name, _ := cm["name"].(string)
		if name == "" {
			add("credentials[%d]: name is required", i)
		}
		if seen[name] {
			add("credentials[%d]: %s appears twice", i, name)
		}
		seen[name] = true
		src, ok := cm["source"].(map[string]any)
		if !ok {
			add("credentials[%d] (%s): source is required", i, name)
			continue
		}
		var kinds []string
		for k, v := range src {
			if !slices.Contains(credentialSources, k) {
				add("credentials[%d] (%s): source %s is not one of %s", i, name, k, strings.Join(credentialSources, ", "))
			}
			if s, isString := v.(string); !isString || s == "" {
				add("credentials[%d] (%s): source %s must be a non-empty string", i, name, k)
			}
			kinds = append(kinds, k)
		}
		if len(kinds) != 1 {
			add("credentials[%d] (%s): source must have exactly one of %s", i, name, strings.Join(credentialSources, ", "))
		}
	}
	return p
}

// configKeys are the settings of porter's config file (the documented
// example, and pkg/config's Data).
var configKeys = []string{
	"namespace", "verbosity", "output", "allow-docker-host-access", "experimental", "build-driver", "runtime-driver",
	"autobuild-disabled", "force-overwrite", "default-storage", "default-storage-plugin", "default-secrets",
	"default-secrets-plugin", "default-signer", "default-signing-plugin", "storage", "secrets", "signer", "logs",
	"telemetry", "schema-check",
}

// pluginConfigKeys are the settings each plugin documents.
var pluginConfigKeys = map[string]map[string][]string{
	"storage": {"mongodb": {"url", "timeout"}},
	"secrets": {"azure.keyvault": {"vault", "vault-url", "env-azure-prefix"}},
}

// templateReference is a ${...} of porter's config template (liquid with
// the delimiters ${ and }).
var templateReference = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkConfigFile checks porter's config.yaml. env lists the environment
// porter runs with (names), secrets the Key Vault secrets that exist.
func checkConfigFile(doc []byte, env, secrets []string) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	// Porter renders the whole file, comments included, before parsing.
	for i, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "${") {
			add("line %d: a template reference in a comment is rendered too", i+1)
		}
	}
	for _, m := range templateReference.FindAllStringSubmatch(string(doc), -1) {
		kind, name, _ := strings.Cut(strings.TrimSpace(m[1]), ".")
		switch {
		case kind == "env" && !slices.Contains(env, name):
			add("${env.%s}: not in porter's environment", name)
		case kind == "secret" && !slices.Contains(secrets, name):
			add("${secret.%s}: no such Key Vault secret", name)
		case kind != "env" && kind != "secret":
			add("${%s}: only env.NAME and secret.NAME are resolved", m[1])
		}
	}

	var cfg map[string]any
	if err := yaml.Unmarshal(doc, &cfg); err != nil {
		return append(p, "not YAML: "+err.Error())
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range cfg {
			if !yield(k) {
				return
			}
		}
	}) {
		if !slices.Contains(configKeys, k) {
			add("%s is not a porter setting", k)
		}
	}
	for _, section := range []string{"storage", "secrets"} {
		def := "default-" + section
		list, _ := cfg[section].([]any)
		names := map[string]bool{}
		for i, e := range list {
			em, ok := e.(map[string]any)
			if !ok {
				add("%s[%d] must be a name, plugin and config", section, i)
				continue
			}
			for k := range em {
				if k != "name" && k != "plugin" && k != "config" {
					add("%s[%d]: %s is not a plugin setting (name, plugin, config)", section, i, k)
				}
			}
			name, _ := em["name"].(string)
			names[name] = true
			plugin, _ := em["plugin"].(string)
			keys, known := pluginConfigKeys[section][plugin]
			if !known {
				add("%s %s: plugin %q is not one the runner configures", section, name, plugin)
				continue
			}
			conf, _ := em["config"].(map[string]any)
			for k := range conf {
				if !slices.Contains(keys, k) {
					add("%s %s: %s is not a setting of %s", section, name, k, plugin)
				}
			}
			switch plugin {
			case "mongodb":
				if conf["url"] == nil {
					add("storage %s: the mongodb plugin needs url", name)
				}
			case "azure.keyvault":
				if conf["vault"] == nil && conf["vault-url"] == nil {
					add("secrets %s: the azure.keyvault plugin needs vault or vault-url", name)
				}
				// The secrets plugin is configured in porter's first
				// pass, which resolves the environment only.
				b, _ := json.Marshal(conf)
				if bytes.Contains(b, []byte("${secret.")) {
					add("secrets %s: its configuration cannot read secrets", name)
				}
			}
		}
		want, _ := cfg[def].(string)
		switch {
		case want == "":
			add("%s is not set: porter would use its default %s plugin", def, map[string]string{"storage": "mongodb-docker", "secrets": "host"}[section])
		case !names[want]:
			add("%s %q names no %s entry", def, want, section)
		}
	}
	sort.Strings(p)
	return p
}

// porterEnvNames are the variables of porter's environment that the
// agent sets (processor-vm's porterEnv; its test checks the list).
var porterEnvNames = []string{"HOME", "PATH", "KEY_VAULT_URL", "ARM_ENVIRONMENT", "AZURE_ENVIRONMENT", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_SUBSCRIPTION_ID", "ARM_TENANT_ID"}

func TestDefaultConfigFileFollowsPortersFormat(t *testing.T) {
	t.Parallel()
	require.Empty(t, checkConfigFile(DefaultConfigFile(), porterEnvNames, []string{"porter-db-connection-string"}))
}

func TestAzureTRECredentialSetsFollowPortersFormat(t *testing.T) {
	t.Parallel()
	sets := AzureTRECredentialSets()
	require.Len(t, sets, 2)
	for _, cs := range sets {
		b, err := json.Marshal(cs)
		require.NoError(t, err)
		require.Empty(t, checkCredentialSet(b), cs.Name)
		for _, c := range cs.Credentials {
			if c.Source.Env != "" {
				require.Contains(t, porterEnvNames, c.Source.Env, "%s.%s reads porter's environment", cs.Name, c.Name)
			}
		}
	}
	require.Equal(t, DefaultCredentialSets, []string{sets[0].Name, sets[1].Name}, "the sets every action is given are the ones installed")
}

func TestCheckConfigFileFindsProblems(t *testing.T) {
	t.Parallel()
	broken := `# a comment with ${env.HOME}
default-storage: db
default-secrets: missing
verbose: true
storage:
  - name: db
    plugin: mongodb
    config:
      uri: ${secret.nope}
secrets:
  - name: kv
    plugin: azure.keyvault
    config:
      vault-url: ${env.VAULT}
      client: ${secret.x}
`
	require.Equal(t, []string{
		"${env.VAULT}: not in porter's environment",
		"${secret.nope}: no such Key Vault secret",
		"${secret.x}: no such Key Vault secret",
		`default-secrets "missing" names no secrets entry`,
		"line 1: a template reference in a comment is rendered too",
		"secrets kv: client is not a setting of azure.keyvault",
		"secrets kv: its configuration cannot read secrets",
		"storage db: the mongodb plugin needs url",
		"storage db: uri is not a setting of mongodb",
		"verbose is not a porter setting",
	}, checkConfigFile([]byte(broken), porterEnvNames, nil))
	require.Equal(t, []string{
		"default-secrets is not set: porter would use its default host plugin",
		"default-storage is not set: porter would use its default mongodb-docker plugin",
	}, checkConfigFile([]byte("namespace: dev\n"), nil, nil))
}

func TestCheckCredentialSetFindsProblems(t *testing.T) {
	t.Parallel()
	broken := `{"schemaType": "ParameterSet", "schemaVersion": "1.0.0", "name": "x", "extra": 1,
	  "credentials": [{"name": "a", "source": {"env": "A", "secret": "b"}}, {"name": "a", "source": {"vault": "v"}}, {"value": "v"}]}`
	require.Equal(t, []string{
		"property extra is not in the schema",
		"schemaVersion 1.0.0: porter 1.4 supports 1.0.1",
		"schemaType ParameterSet: want CredentialSet",
		"credentials[0] (a): source must have exactly one of command, env, path, secret, value",
		"credentials[1]: a appears twice",
		"credentials[1] (a): source vault is not one of command, env, path, secret, value",
		"credentials[2]: property value is not in the schema",
		"credentials[2]: name is required",
		"credentials[2] (): source is required",
	}, checkCredentialSet([]byte(broken)))
	require.Equal(t, []string{"property name is required", "property credentials is required", "property schemaVersion is required", "name must not be empty"},
		checkCredentialSet([]byte(`{}`)))
}
