package porter

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Versions are the versions of porter, its mixins and its plugins that a
// runner needs.
type Versions struct {
	Porter  string
	Mixins  map[string]string
	Plugins map[string]string
}

// AzureTREVersions are the versions AzureTRE's Resource Processor image
// installs (AzureTRE resource_processor/vmss_porter/Dockerfile, at commit
// 3b773995f): PORTER_VERSION v1.4.0, and the exec mixin at the same version
// (scripts/porter-v1.sh installs it with PORTER_VERSION),
// PORTER_TERRAFORM_MIXIN_VERSION v1.0.8, PORTER_AZ_MIXIN_VERSION v1.0.7,
// PORTER_AZURE_PLUGIN_VERSION v1.2.4. Bundles are built against these
// mixins; processor-vm/cloud-init.yaml installs exactly these (a test
// checks it).
var AzureTREVersions = Versions{
	Porter:  "v1.4.0",
	Mixins:  map[string]string{"exec": "v1.4.0", "terraform": "v1.0.8", "az": "v1.0.7"},
	Plugins: map[string]string{"azure": "v1.2.4"},
}

//go:embed porterhome/config.yaml
var defaultConfigFile []byte

// DefaultConfigFile returns Porter's config.yaml as the TRE runs porter:
// storage in Cosmos DB's API for MongoDB (the connection string is the Key
// Vault secret porter-db-connection-string), secrets in the TRE's Key Vault
// (the azure plugin's azure.keyvault, vault KEY_VAULT_URL). This is what
// AzureTRE's processor image ships as ~/.porter/config.yaml.
func DefaultConfigFile() []byte { return bytes.Clone(defaultConfigFile) }

// CredentialSet is a Porter credential set document (schemaVersion 1.0.1,
// porter.sh/reference/file-formats): where porter finds the value of each
// credential a bundle declares.
type CredentialSet struct {
	SchemaType    string       `json:"schemaType"`
	SchemaVersion string       `json:"schemaVersion"`
	Namespace     string       `json:"namespace"`
	Name          string       `json:"name"`
	Credentials   []Credential `json:"credentials"`
}

// Credential maps one credential to its source.
type Credential struct {
	Name   string           `json:"name"`
	Source CredentialSource `json:"source"`
}

// CredentialSource is where porter reads a credential: an environment
// variable of porter's environment, or a secret of its secrets plugin (the
// Key Vault). Exactly one is set.
type CredentialSource struct {
	Env    string `json:"env,omitempty"`
	Secret string `json:"secret,omitempty"`
}

func newCredentialSet(name string, creds ...Credential) CredentialSet {
	return CredentialSet{SchemaType: "CredentialSet", SchemaVersion: "1.0.1", Name: name, Credentials: creds}
}

// AzureTRECredentialSets are the credential sets AzureTRE's processor
// applies before every porter action when it runs with a managed identity
// (AzureTRE resource_processor/helpers/commands.py,
// apply_porter_credentials_sets_command), in its order:
//
//   - arm_auth: the identity bundles deploy with, from porter's environment
//     (ARM_CLIENT_SECRET is empty under a managed identity, but must be
//     set: porter fails on an unset variable);
//   - aad_auth: the Entra application that bundles use to create and
//     update workspace applications, from three Key Vault secrets
//     (docs/deploy.md says how to create it).
//
// Porter resolves every credential of a set given with --credential-set,
// so all of them must resolve even for bundles that use none.
func AzureTRECredentialSets() []CredentialSet {
	return []CredentialSet{
		newCredentialSet("arm_auth",
			Credential{"azure_client_id", CredentialSource{Env: "ARM_CLIENT_ID"}},
			Credential{"azure_client_secret", CredentialSource{Env: "ARM_CLIENT_SECRET"}},
			Credential{"azure_subscription_id", CredentialSource{Env: "ARM_SUBSCRIPTION_ID"}},
			Credential{"azure_tenant_id", CredentialSource{Env: "ARM_TENANT_ID"}},
		),
		newCredentialSet("aad_auth",
			Credential{"auth_tenant_id", CredentialSource{Secret: "auth-tenant-id"}},
			Credential{"auth_client_id", CredentialSource{Secret: "application-admin-client-id"}},
			Credential{"auth_client_secret", CredentialSource{Secret: "application-admin-client-secret"}},
		),
	}
}

// Setup is what a runner installs in porter's home before it takes work,
// and checks there.
type Setup struct {
	// Home is porter's home: PORTER_HOME, or ~/.porter of the user porter
	// runs as. config.yaml goes there, the credential set files into its
	// credential-sets directory. Required.
	Home string
	// Versions porter, its mixins and its plugins must have. Empty fields
	// are not checked.
	Versions Versions
	// ConfigFile is written to Home/config.yaml. Nil: DefaultConfigFile().
	ConfigFile []byte
	// CredentialSets are written to Home/credential-sets/<name>.json and
	// applied in this order. Nil: AzureTRECredentialSets().
	CredentialSets []CredentialSet
}

func (s Setup) withDefaults() Setup {
	if s.ConfigFile == nil {
		s.ConfigFile = DefaultConfigFile()
	}
	if s.CredentialSets == nil {
		s.CredentialSets = AzureTRECredentialSets()
	}
	return s
}

// CredentialSetFile is where s writes the credential set name.
func (s Setup) CredentialSetFile(name string) string {
	return filepath.Join(s.Home, "credential-sets", name+".json")
}

// ApplyCommands returns the command lines that apply s's credential sets
// (`porter credentials apply <file>`), porter being the porter binary. Add
// them to Config.Prelude after the logins: AzureTRE's processor applies
// them before every porter action, so that storage that lost them (a new
// database) gets them back.
func (s Setup) ApplyCommands(porter string) [][]string {
	s = s.withDefaults()
	var out [][]string
	for _, cs := range s.CredentialSets {
		out = append(out, []string{orDefault(porter, DefaultPorter), "credentials", "apply", s.CredentialSetFile(cs.Name)})
	}
	return out
}

// configNames are the file names porter (through viper) takes as its
// configuration, in the order it looks for them: another one beside ours
// would win or confuse.
var configNames = []string{"config.json", "config.toml", "config.yaml", "config.yml", "config.properties", "config.props", "config.prop", "config.hcl", "config.tfvars", "config.dotenv", "config.env", "config.ini"}

// Setup prepares porter for r, as AzureTRE's processor image and start-up
// do, and fails unless porter can run bundles:
//
//  1. `porter version`, `porter mixins list` and `porter plugins list`:
//     porter, each of s.Versions' mixins and plugins is installed at its
//     version (every problem is reported; nothing else runs);
//  2. config.yaml written to s.Home (refused if another configuration file
//     is there, or a config.yaml that s did not write: its first line
//     differs);
//  3. the credential set files written;
//  4. the runner's prelude run once (the logins and, if the prelude has
//     ApplyCommands, the credential sets applied): the identity, the Key
//     Vault and porter's storage answer before the agent takes work.
//
// On a fresh home the version checks run before porter has a
// configuration, so they need neither the vault nor the store.
//
// Errors: CodeInvalid for a Setup that names no home, or credential sets
// that do not cover the runner's CredentialSets; otherwise errors that say
// what is missing and where the installation is done.
func (r *Runner) Setup(ctx context.Context, s Setup) error {
	s = s.withDefaults()
	if err := r.checkSetup(s); err != nil {
		return err
	}
	log := r.log.With("step", "setup")

	var problems []string
	if s.Versions.Porter != "" {
		got, err := r.porterVersion(ctx, log)
		if err != nil {
			return fmt.Errorf("porter: setup: %w", err)
		}
		if got != s.Versions.Porter {
			problems = append(problems, fmt.Sprintf("porter is %s, want %s", got, s.Versions.Porter))
		}
	}
	for _, kind := range []struct {
		what string
		want map[string]string
	}{{"mixins", s.Versions.Mixins}, {"plugins", s.Versions.Plugins}} {
		if len(kind.want) == 0 {
			continue
		}
		got, err := r.installed(ctx, log, kind.what)
		if err != nil {
			return fmt.Errorf("porter: setup: %w", err)
		}
		for _, name := range slices.Sorted(maps.Keys(kind.want)) {
			have, ok := got[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("the %s %s is not installed, want %s", name, strings.TrimSuffix(kind.what, "s"), kind.want[name]))
			case have != kind.want[name]:
				problems = append(problems, fmt.Sprintf("the %s %s is %s, want %s", name, strings.TrimSuffix(kind.what, "s"), have, kind.want[name]))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("porter: setup: %s (processor-vm/cloud-init.yaml installs them: run tre-processor-setup as root)", strings.Join(problems, "; "))
	}
	if err := writeConfig(s.Home, s.ConfigFile); err != nil {
		return fmt.Errorf("porter: setup: %w", err)
	}
	for _, cs := range s.CredentialSets {
		b, err := json.MarshalIndent(cs, "", "  ")
		if err != nil {
			return fmt.Errorf("porter: setup: credential set %s: %w", cs.Name, err)
		}
		if err := writeFile(s.CredentialSetFile(cs.Name), append(b, '\n')); err != nil {
			return fmt.Errorf("porter: setup: %w", err)
		}
	}
	for _, argv := range r.prelude {
		c := command{what: preludeName(argv), path: argv[0], args: argv[1:]}
		c.shown = c.what
		if _, err := r.run(ctx, log, c); err != nil {
			return fmt.Errorf("porter: setup: %w", err)
		}
	}
	log.Info("porter ready", "home", s.Home)
	return nil
}

func (r *Runner) checkSetup(s Setup) error {
	if !filepath.IsAbs(s.Home) {
		return tre.Errorf(tre.CodeInvalid, "porter: setup: the home %q is not an absolute path", s.Home)
	}
	names := map[string]bool{}
	for _, cs := range s.CredentialSets {
		names[cs.Name] = true
	}
	for _, want := range r.credentialSets {
		if !names[want] {
			return tre.Errorf(tre.CodeInvalid, "porter: setup: the runner passes the credential set %s, which the setup does not install", want)
		}
	}
	return nil
}

// porterVersion returns the version `porter version --output json` reports.
func (r *Runner) porterVersion(ctx context.Context, log *slog.Logger) (string, error) {
	out, err := r.capture(ctx, log, "porter version", "version", "--output", "json")
	if err != nil {
		return "", err
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("porter version printed no version: %q", lastBytes(string(out), 200))
	}
	return v.Version, nil
}

// installed returns the installed mixins or plugins (what: "mixins" or
// "plugins") by name, with their versions.
func (r *Runner) installed(ctx context.Context, log *slog.Logger, what string) (map[string]string, error) {
	out, err := r.capture(ctx, log, "porter "+what+" list", what, "list", "--output", "json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("porter %s list printed no list: %w", what, err)
	}
	got := map[string]string{}
	for _, p := range list {
		got[p.Name] = p.Version
	}
	return got, nil
}

// capture runs porter with args and returns its standard output.
func (r *Runner) capture(ctx context.Context, log *slog.Logger, what string, args ...string) ([]byte, error) {
	return r.run(ctx, log, command{what: what, path: r.porter, args: args, shown: "porter " + strings.Join(args, " "), capture: true})
}

// writeConfig writes porter's config.yaml into home, refusing to replace a
// configuration it did not write.
func writeConfig(home string, content []byte) error {
	for _, name := range configNames {
		if name == "config.yaml" {
			continue
		}
		if _, err := os.Stat(filepath.Join(home, name)); err == nil {
			return fmt.Errorf("%s is in porter's home: porter would read it instead of, or besides, config.yaml; remove it", filepath.Join(home, name))
		}
	}
	path := filepath.Join(home, "config.yaml")
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case bytes.Equal(old, content):
		return nil
	case firstLine(old) != firstLine(content):
		return fmt.Errorf("%s was not written by this runner (its first line is %q); move it away to let the runner manage porter's configuration", path, firstLine(old))
	}
	return writeFile(path, content)
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

// writeFile replaces path with content atomically (a rename), creating its
// directory. The files hold no secret, but nothing else needs to read them.
func writeFile(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
