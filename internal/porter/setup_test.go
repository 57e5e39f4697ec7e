//go:build unix

package porter

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/porter/portertest"
	"github.com/tre-go/tre/internal/tre"
)

// vault is the Key Vault of the setup tests: every secret the default
// configuration and credential sets read.
var vault = map[string]string{
	"porter-db-connection-string":     "mongodb://porter:key@cosmos-mongo.example:10255/?ssl=true",
	"auth-tenant-id":                  "tenant-1",
	"application-admin-client-id":     "app-admin-1",
	"application-admin-client-secret": "app-admin-secret",
}

// azureTRESpec is a VM on which cloud-init installed what AzureTRE's
// image has.
func azureTRESpec() portertest.Spec {
	return portertest.Spec{
		PorterVersion: AzureTREVersions.Porter,
		Mixins:        maps.Clone(AzureTREVersions.Mixins),
		Plugins:       maps.Clone(AzureTREVersions.Plugins),
		Vault:         maps.Clone(vault),
		Explain:       `{"name": "tre-workspace-base", "parameters": [{"name": "tfstate_container_name"}]}`,
		Outputs:       `[{"name": "ip", "type": "string", "value": "10.0.0.4"}]`,
	}
}

// setupRig is a runner on the portertest fakes, with porter's home in a
// temporary directory.
type setupRig struct {
	fake  *portertest.Fake
	home  string // the user's home; porter's is home/.porter
	setup Setup
	cfg   Config
}

func newSetupRig(t *testing.T, spec portertest.Spec) *setupRig {
	t.Helper()
	fake := portertest.Install(t, spec)
	home := t.TempDir()
	s := Setup{Home: filepath.Join(home, ".porter"), Versions: AzureTREVersions}
	az := filepath.Join(fake.Dir, "az")
	prelude := [][]string{
		{az, "cloud", "set", "--name", "AzureCloud"},
		{az, "login", "--identity", "--client-id", "msi-1"},
		{az, "acr", "login", "--name", "myacr"},
	}
	return &setupRig{
		fake:  fake,
		home:  home,
		setup: s,
		cfg: Config{
			Porter:   fake.Porter(),
			Registry: "myacr.azurecr.io",
			Env: []string{
				"HOME=" + home, "PATH=/usr/bin:/bin", "KEY_VAULT_URL=https://kv.example/",
				"ARM_CLIENT_ID=msi-1", "ARM_CLIENT_SECRET=", "ARM_SUBSCRIPTION_ID=sub-1", "ARM_TENANT_ID=tenant-1",
			},
			Prelude:         append(prelude, s.ApplyCommands(fake.Porter())...),
			AgentParameters: map[string]string{"tfstate_container_name": "tfstate"},
		},
	}
}

func (r *setupRig) runner(t *testing.T) *Runner {
	t.Helper()
	run, err := New(r.cfg)
	require.NoError(t, err)
	return run
}

// argvs are the fake's calls as command lines, with the fakes' directory
// shown as "/fake".
func (r *setupRig) argvs(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	for _, c := range r.fake.Calls(t) {
		argv := c.Argv()
		for i := range argv {
			argv[i] = strings.ReplaceAll(argv[i], r.home, "/home")
		}
		out = append(out, argv)
	}
	return out
}

var (
	wantSetupChecks = [][]string{
		{"porter", "version", "--output", "json"},
		{"porter", "mixins", "list", "--output", "json"},
		{"porter", "plugins", "list", "--output", "json"},
	}
	wantPrelude = [][]string{
		{"az", "cloud", "set", "--name", "AzureCloud"},
		{"az", "login", "--identity", "--client-id", "msi-1"},
		{"az", "acr", "login", "--name", "myacr"},
		{"porter", "credentials", "apply", "/home/.porter/credential-sets/arm_auth.json"},
		{"porter", "credentials", "apply", "/home/.porter/credential-sets/aad_auth.json"},
	}
)

func TestSetupInstallsConfigurationAndCredentialSets(t *testing.T) {
	t.Parallel()
	r := newSetupRig(t, azureTRESpec())
	require.NoError(t, r.runner(t).Setup(context.Background(), r.setup))

	require.Equal(t, slices.Concat(wantSetupChecks, wantPrelude), r.argvs(t))
	config, err := os.ReadFile(filepath.Join(r.setup.Home, "config.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(DefaultConfigFile()), string(config))

	// The credential sets as applied are AzureTRE's, in its order.
	var applied []CredentialSet
	for _, c := range r.fake.Calls(t) {
		if c.File != "" {
			var cs CredentialSet
			require.NoError(t, json.Unmarshal([]byte(c.File), &cs))
			applied = append(applied, cs)
		}
	}
	require.Equal(t, AzureTRECredentialSets(), applied)
	for _, c := range r.fake.Calls(t) {
		require.Equal(t, slices.Sorted(slices.Values(r.cfg.Env)), slices.Sorted(slices.Values(c.Env)), "environment of %v", c.Argv())
	}
}

func TestRunAppliesCredentialSetsBeforeEveryJob(t *testing.T) {
	t.Parallel()
	r := newSetupRig(t, azureTRESpec())
	run := r.runner(t)
	require.NoError(t, run.Setup(context.Background(), r.setup))
	before := len(r.fake.Calls(t))

	res, err := run.Run(context.Background(), tre.Job{Action: "install", Installation: "ws-1", Bundle: "tre-workspace-base", Version: "1.0.0"})
	require.NoError(t, err)
	require.Equal(t, []tre.Output{{Name: "ip", Value: "10.0.0.4", Type: "string"}}, res.Outputs)
	ref := "myacr.azurecr.io/tre-workspace-base:v1.0.0"
	require.Equal(t, slices.Concat(wantPrelude, [][]string{
		{"porter", "explain", "--reference", ref, "--output", "json"},
		{"porter", "install", "ws-1", "--reference", ref, "--param", "tfstate_container_name=tfstate",
			"--force", "--credential-set", "arm_auth", "--credential-set", "aad_auth"},
		{"porter", "installations", "output", "list", "--installation", "ws-1", "--output", "json"},
	}), r.argvs(t)[before:])
}

// Without the setup, porter has no configuration: it would keep its data
// in a MongoDB container from Docker Hub, and the fake, like a VM behind
// the TRE's firewall, fails.
func TestRunWithoutSetupFails(t *testing.T) {
	t.Parallel()
	r := newSetupRig(t, azureTRESpec())
	r.cfg.Prelude = r.cfg.Prelude[:3]
	_, err := r.runner(t).Run(context.Background(), tre.Job{Action: "install", Installation: "ws-1", Bundle: "b", Version: "1.0.0"})
	require.ErrorContains(t, err, "porter install failed (exit 1): Error: no config.yaml in "+r.home+"/.porter: the default storage, mongodb-docker, would run MongoDB from Docker Hub")
}

func TestSetupReportsEveryVersionProblem(t *testing.T) {
	t.Parallel()
	spec := azureTRESpec()
	spec.PorterVersion = "v1.2.1"
	spec.Mixins = map[string]string{"exec": "v1.2.1", "terraform": "v1.0.5"}
	spec.Plugins = map[string]string{}
	r := newSetupRig(t, spec)
	err := r.runner(t).Setup(context.Background(), r.setup)
	require.EqualError(t, err, "porter: setup: porter is v1.2.1, want v1.4.0; "+
		"the az mixin is not installed, want v1.0.7; the exec mixin is v1.2.1, want v1.4.0; the terraform mixin is v1.0.5, want v1.0.8; "+
		"the azure plugin is not installed, want v1.2.4 (processor-vm/cloud-init.yaml installs them: run tre-processor-setup as root)")
	// Nothing runs with the wrong porter, and its home is left alone.
	require.Equal(t, wantSetupChecks, r.argvs(t))
	require.NoFileExists(t, filepath.Join(r.setup.Home, "config.yaml"))
}

func TestSetupFailsWhenThePreludeFails(t *testing.T) {
	t.Parallel()
	spec := azureTRESpec()
	delete(spec.Vault, "application-admin-client-secret")
	spec.Fail = map[string]portertest.Failure{"az login": {Stderr: "ERROR: identity not found\n", Exit: 1}}
	r := newSetupRig(t, spec)
	err := r.runner(t).Setup(context.Background(), r.setup)
	require.EqualError(t, err, "porter: setup: az login failed (exit 1): ERROR: identity not found")
}

func TestSetupFailsWithoutTheStoreSecret(t *testing.T) {
	t.Parallel()
	spec := azureTRESpec()
	delete(spec.Vault, "porter-db-connection-string")
	r := newSetupRig(t, spec)
	err := r.runner(t).Setup(context.Background(), r.setup)
	require.ErrorContains(t, err, "porter: setup: porter credentials apply "+r.setup.CredentialSetFile("arm_auth")+" failed (exit 1): Error: config.yaml: could not resolve ${secret.porter-db-connection-string}")
}

func TestSetupConfigFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing map[string]string // file name => content, in porter's home
		want     string            // error, "" for success
	}{
		{name: "a fresh home"},
		{name: "our earlier configuration is replaced", existing: map[string]string{"config.yaml": firstLine(DefaultConfigFile()) + "\ndefault-storage: old\n"}},
		{name: "someone else's config.yaml is kept", existing: map[string]string{"config.yaml": "namespace: dev\n"},
			want: `config.yaml was not written by this runner (its first line is "namespace: dev"); move it away to let the runner manage porter's configuration`},
		{name: "another configuration file", existing: map[string]string{"config.toml": "namespace = \"dev\"\n"},
			want: "config.toml is in porter's home: porter would read it instead of, or besides, config.yaml; remove it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newSetupRig(t, azureTRESpec())
			require.NoError(t, os.MkdirAll(r.setup.Home, 0o700))
			for name, content := range tt.existing {
				require.NoError(t, os.WriteFile(filepath.Join(r.setup.Home, name), []byte(content), 0o600))
			}
			err := r.runner(t).Setup(context.Background(), r.setup)
			got, rerr := os.ReadFile(filepath.Join(r.setup.Home, "config.yaml"))
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				if c, ok := tt.existing["config.yaml"]; ok {
					require.Equal(t, c, string(got), "left as it was")
				}
				return
			}
			require.NoError(t, err)
			require.NoError(t, rerr)
			require.Equal(t, string(DefaultConfigFile()), string(got))
		})
	}
}

func TestSetupChecksItsOwnConfiguration(t *testing.T) {
	t.Parallel()
	run, err := New(Config{Registry: "r.example"})
	require.NoError(t, err)
	err = run.Setup(context.Background(), Setup{Home: "relative/.porter"})
	require.EqualError(t, err, `porter: setup: the home "relative/.porter" is not an absolute path`)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))

	err = run.Setup(context.Background(), Setup{Home: "/h/.porter", CredentialSets: AzureTRECredentialSets()[:1]})
	require.EqualError(t, err, "porter: setup: the runner passes the credential set aad_auth, which the setup does not install")
}

func TestApplyCommands(t *testing.T) {
	t.Parallel()
	require.Equal(t, [][]string{
		{"/usr/local/bin/porter", "credentials", "apply", "/var/lib/tre-processor/.porter/credential-sets/arm_auth.json"},
		{"/usr/local/bin/porter", "credentials", "apply", "/var/lib/tre-processor/.porter/credential-sets/aad_auth.json"},
	}, Setup{Home: "/var/lib/tre-processor/.porter"}.ApplyCommands("/usr/local/bin/porter"))
}
