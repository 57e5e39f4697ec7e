// Package portertest is a fake porter CLI (and az CLI) for tests of code
// that runs porter: the test binary re-runs itself through symbolic links
// named "porter" and "az" (the os/exec test pattern), and plays the part
// from a spec instead of running the tests.
//
// The fake porter behaves as Porter v1 does where the callers' correctness
// depends on it, and fails the way Porter would otherwise:
//
//   - every command but `version` renders PORTER_HOME/config.yaml
//     (PORTER_HOME, else $HOME/.porter, from the fake's own environment) if
//     there is one: ${env.NAME} must be set in its environment and
//     ${secret.NAME} must be a secret of the spec's vault;
//   - the commands that use Porter's storage (credentials, actions,
//     installations) refuse to run without config.yaml: Porter would use
//     its default mongodb-docker storage, a MongoDB container from Docker
//     Hub;
//   - `mixins list` and `plugins list` print the spec's installed packages;
//   - `credentials apply FILE` stores the credential set (it must be a
//     CredentialSet 1.0.1 document with a name);
//   - an action (install, upgrade, uninstall, invoke) needs every
//     --credential-set it is given to have been applied, and resolves each
//     credential: an env source must be set in its environment (empty is
//     fine, unset is not), a secret source must be in the vault;
//   - `installations output list` prints the spec's outputs.
//
// Every call is recorded (program, arguments, environment, and for
// `credentials apply` the file's content) in calls.jsonl of the fake's
// directory. Nothing selects the fake through the environment, so it sees
// exactly the environment its caller gives it.
package portertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Spec tells the fake what is installed and what to answer.
type Spec struct {
	// PorterVersion is what `porter version` reports, e.g. "v1.4.0".
	PorterVersion string `json:"porterVersion"`
	// Mixins and Plugins are the installed packages, name => version.
	Mixins  map[string]string `json:"mixins"`
	Plugins map[string]string `json:"plugins"`
	// Vault holds the secrets ${secret.NAME} and secret sources resolve to.
	Vault map[string]string `json:"vault"`
	// Explain is what `porter explain --output json` prints.
	Explain string `json:"explain"`
	// Outputs is what `porter installations output list --output json`
	// prints.
	Outputs string `json:"outputs"`
	// Fail makes a command fail, by key (see Key): its standard error and
	// exit code.
	Fail map[string]Failure `json:"fail,omitempty"`
}

// Failure is a failing command's output.
type Failure struct {
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
}

// Call is one recorded run of the fake.
type Call struct {
	Prog string   `json:"prog"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
	// File is the content of the file of `porter credentials apply`.
	File string `json:"file,omitempty"`
}

// Argv is the call's program and arguments.
func (c Call) Argv() []string { return append([]string{c.Prog}, c.Args...) }

// Key names a command for Spec.Fail: the porter subcommand words before the
// first flag or path ("version", "credentials apply", "install",
// "installations output list"), or "az" and its words ("az acr login").
func Key(prog string, args []string) string {
	words := []string{}
	if prog == "az" {
		words = append(words, "az")
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") || strings.ContainsAny(a, "/.") {
			break
		}
		words = append(words, a)
		if prog == "porter" && !slices.Contains([]string{"credentials", "installations", "output", "mixins", "plugins", "invoke"}, a) {
			break
		}
	}
	return strings.Join(words, " ")
}

// Fake is an installed fake: a directory holding porter and az.
type Fake struct {
	// Dir holds the fakes, their spec and their records. Put it first on
	// PATH to make "az" (and "porter") the fakes.
	Dir string
}

// Porter is the path of the fake porter.
func (f *Fake) Porter() string { return filepath.Join(f.Dir, "porter") }

// Install creates the fakes in a temporary directory of t, answering as
// spec says.
func Install(t *testing.T, spec Spec) *Fake {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"porter", "az"} {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	f := &Fake{Dir: dir}
	f.SetSpec(t, spec)
	return f
}

// SetSpec replaces the fake's spec.
func (f *Fake) SetSpec(t *testing.T, spec Spec) {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, "spec.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Calls returns the recorded calls, in order.
func (f *Fake) Calls(t *testing.T) []Call {
	t.Helper()
	file, err := os.Open(filepath.Join(f.Dir, "calls.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var calls []Call
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return calls
}

// Main runs the fake when the test binary was started as one (through a
// link named porter or az in a directory made by Install) and exits;
// otherwise it returns at once. Call it first in TestMain.
func Main() {
	prog := filepath.Base(os.Args[0])
	if prog != "porter" && prog != "az" {
		return
	}
	path := os.Args[0]
	if !strings.ContainsRune(path, filepath.Separator) {
		// Started through a PATH lookup ("az"): argv[0] is the bare
		// name, and the fake's PATH leads to its directory.
		resolved, err := exec.LookPath(path)
		if err != nil {
			return
		}
		path = resolved
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(filepath.Join(dir, "spec.json")); err != nil {
		// Another fake's directory (a test package may have its own
		// fakes under the same names): not ours to play.
		return
	}
	code := run(dir, prog, os.Args[1:])
	// Not os.Exit: under -race that waits for the race detector's report
	// (GORACE is not in the fake's exact environment). Output is
	// unbuffered, so nothing is lost.
	syscall.Exit(code)
}

// run is the fake: it records the call and plays its part.
func run(dir, prog string, args []string) int {
	call := Call{Prog: prog, Args: args, Env: os.Environ()}
	if prog == "porter" && len(args) >= 3 && args[0] == "credentials" && args[1] == "apply" {
		if b, err := os.ReadFile(args[2]); err == nil {
			call.File = string(b)
		}
	}
	line, _ := json.Marshal(call)
	if err := appendFile(filepath.Join(dir, "calls.jsonl"), string(line)+"\n"); err != nil {
		return fail("fake: %s", err)
	}
	var spec Spec
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		return fail("fake: spec: %s", err)
	}
	if f, ok := spec.Fail[Key(prog, args)]; ok {
		fmt.Fprint(os.Stderr, f.Stderr)
		return f.Exit
	}
	if prog == "az" {
		if Key(prog, args) == "az account show" {
			fmt.Println(`{"id": "fake-subscription"}`)
		}
		return 0
	}
	p := &porter{dir: dir, spec: spec}
	return p.run(args)
}

type porter struct {
	dir  string
	spec Spec
}

func (p *porter) run(args []string) int {
	if len(args) == 0 {
		return fail("Error: no command")
	}
	if args[0] == "version" {
		// Porter's version command reads no configuration.
		if flag(args, "--output") == "json" {
			return printJSON(map[string]string{"name": "porter", "version": p.spec.PorterVersion, "commit": "fake"})
		}
		fmt.Printf("porter %s (fake)\n", p.spec.PorterVersion)
		return 0
	}
	key := Key("porter", args)
	configured, err := p.loadConfig()
	if err != nil {
		return fail("Error: %s", err)
	}
	if !configured && !slices.Contains([]string{"mixins list", "plugins list", "explain"}, key) {
		return fail("Error: no config.yaml in %s: the default storage, mongodb-docker, would run MongoDB from Docker Hub", p.home())
	}
	switch key {
	case "mixins list":
		return printJSON(packages(p.spec.Mixins, false))
	case "plugins list":
		return printJSON(packages(p.spec.Plugins, true))
	case "credentials apply":
		if len(args) < 3 {
			return fail("Error: a file is required")
		}
		return p.apply(args[2])
	case "explain":
		if flag(args, "--reference") == "" {
			return fail("Error: --reference is required")
		}
		fmt.Print(p.spec.Explain)
		return 0
	case "install", "upgrade", "uninstall", "invoke":
		return p.action(args)
	case "installations output list":
		if flag(args, "--installation") == "" {
			return fail("Error: --installation is required")
		}
		fmt.Print(p.spec.Outputs)
		return 0
	}
	return fail("Error: unknown command %q", strings.Join(args, " "))
}

// templateRef is a ${...} reference of Porter's config file template.
var templateRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{\s*([^}]*?)\s*\}`) })

// home is porter's home, as porter finds it in its environment.
func (p *porter) home() string {
	if home := os.Getenv("PORTER_HOME"); home != "" {
		return home
	}
	return filepath.Join(os.Getenv("HOME"), ".porter")
}

// loadConfig renders config.yaml as Porter does, if there is one: env
// references from the environment, secret references from the vault.
func (p *porter) loadConfig() (bool, error) {
	b, err := os.ReadFile(filepath.Join(p.home(), "config.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, m := range templateRef().FindAllStringSubmatch(string(b), -1) {
		kind, name, _ := strings.Cut(m[1], ".")
		switch kind {
		case "env":
			if os.Getenv(name) == "" {
				return true, fmt.Errorf("config.yaml: ${env.%s} is empty", name)
			}
		case "secret":
			if _, ok := p.spec.Vault[name]; !ok {
				return true, fmt.Errorf("config.yaml: could not resolve ${secret.%s}: no such secret", name)
			}
		default:
			return true, fmt.Errorf("config.yaml: unknown template variable %s", m[1])
		}
	}
	return true, nil
}

// credentialSet is the part of a credential set the fake reads.
type credentialSet struct {
	SchemaType    string `json:"schemaType"`
	SchemaVersion string `json:"schemaVersion"`
	Name          string `json:"name"`
	Credentials   []struct {
		Name   string            `json:"name"`
		Source map[string]string `json:"source"`
	} `json:"credentials"`
}

func (p *porter) apply(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return fail("Error: %s", err)
	}
	var cs credentialSet
	if err := json.Unmarshal(b, &cs); err != nil {
		return fail("Error: %s is not a credential set: %s", path, err)
	}
	if cs.SchemaType != "CredentialSet" || cs.SchemaVersion != "1.0.1" || cs.Name == "" {
		return fail("Error: %s: want a named CredentialSet of schemaVersion 1.0.1", path)
	}
	if err := os.MkdirAll(filepath.Join(p.dir, "credentials"), 0o700); err != nil {
		return fail("Error: %s", err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "credentials", cs.Name+".json"), b, 0o600); err != nil {
		return fail("Error: %s", err)
	}
	fmt.Printf("Applied /%s credential set\n", cs.Name)
	return 0
}

func (p *porter) action(args []string) int {
	for i, a := range args {
		if a != "--credential-set" || i+1 == len(args) {
			continue
		}
		name := args[i+1]
		b, err := os.ReadFile(filepath.Join(p.dir, "credentials", name+".json"))
		if err != nil {
			return fail("Error: credential set %s not found", name)
		}
		var cs credentialSet
		if err := json.Unmarshal(b, &cs); err != nil {
			return fail("Error: %s", err)
		}
		for _, c := range cs.Credentials {
			if env, ok := c.Source["env"]; ok {
				if _, set := os.LookupEnv(env); !set {
					return fail("Error: unable to resolve credential %s.%s from env %s: environment variable %s is not set", name, c.Name, env, env)
				}
			}
			if secret, ok := c.Source["secret"]; ok {
				if _, found := p.spec.Vault[secret]; !found {
					return fail("Error: unable to resolve credential %s.%s from secret %s: not found", name, c.Name, secret)
				}
			}
		}
	}
	fmt.Printf("executing %s action\n", args[0])
	return 0
}

// packages lists installed mixins or plugins as `porter mixins|plugins list
// --output json` does, sorted by name.
func packages(installed map[string]string, plugin bool) []map[string]any {
	out := []map[string]any{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range installed {
			if !yield(k) {
				return
			}
		}
	}) {
		p := map[string]any{"name": name, "version": installed[name], "commit": "fake", "author": "Porter Authors"}
		if plugin {
			p["implementations"] = []map[string]string{{"type": "secrets", "implementation": "keyvault"}}
		}
		out = append(out, p)
	}
	return out
}

// flag returns the value of a --flag value pair, "" if absent.
func flag(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fail("fake: %s", err)
	}
	fmt.Println(string(b))
	return 0
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return 1
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
