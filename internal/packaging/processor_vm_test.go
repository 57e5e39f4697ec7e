package packaging

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tre-go/tre/internal/porter"
)

// The package's files and where cloud-init puts what it writes itself.
const (
	envFilePath   = "/etc/tre-processor/processor.env"
	setupPath     = "/usr/local/sbin/tre-processor-setup"
	processorUnit = "tre-processor.service"
)

func readTarGz(t *testing.T, path string) (map[string][]byte, map[string]os.FileMode) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	data, modes := map[string][]byte{}, map[string]os.FileMode{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, byte(tar.TypeReg), h.Typeflag, "%s is a regular file", h.Name)
		require.NotContains(t, data, h.Name, "duplicate entry")
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		data[h.Name], modes[h.Name] = b, os.FileMode(h.Mode).Perm()
	}
	return data, modes
}

// unpacked caches processorPackage: the tarball is 15 MB of gzip.
var unpacked struct {
	sync.Mutex
	files map[string][]byte
}

// processorPackage is the unpacked processor-vm.tar.gz. Callers must not
// modify it.
func processorPackage(t *testing.T) map[string][]byte {
	t.Helper()
	dir := packages(t, "processor")
	unpacked.Lock()
	defer unpacked.Unlock()
	if unpacked.files == nil {
		unpacked.files, _ = readTarGz(t, filepath.Join(dir, "processor-vm.tar.gz"))
	}
	return unpacked.files
}

// setting is one row of a program's settings table.
type setting struct{ name, def, description string }

var settingRow = regexp.MustCompile("^\\| `([A-Z0-9_]+)` \\| `(.*)` \\| (.*) \\|$")

// processorSettings reads the agent's settings table from the packaged
// binary's `settings` command where this machine runs it, else from
// `go run ./processor-vm settings`.
func processorSettings(t *testing.T, binary []byte) []setting {
	t.Helper()
	var out string
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out = runBinary(t, binary, "settings")
	} else {
		cmd := exec.Command("go", "run", "./processor-vm", "settings")
		cmd.Dir = repoRoot(t)
		b, err := cmd.Output()
		require.NoError(t, err)
		out = string(b)
	}
	var rows []setting
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[2:] {
		m := settingRow.FindStringSubmatch(line)
		require.NotNil(t, m, "a row of the settings table: %q", line)
		rows = append(rows, setting{name: m[1], def: m[2], description: m[3]})
	}
	require.NotEmpty(t, rows)
	return rows
}

// envEntry is one NAME=value line of the env template with the comment
// lines just above it. A setting the agent does not read on the VM is
// listed commented out ("# NAME="), with why.
type envEntry struct {
	name, value, comment string
	unset                bool
}

var (
	envLine      = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	envUnsetLine = regexp.MustCompile(`^# ([A-Z][A-Z0-9_]*)=$`)
)

func parseEnvTemplate(t *testing.T, src string) []envEntry {
	t.Helper()
	var entries []envEntry
	var comment []string
	for n, line := range strings.Split(src, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			comment = nil
		case envUnsetLine.MatchString(line):
			name := envUnsetLine.FindStringSubmatch(line)[1]
			entries = append(entries, envEntry{name: name, comment: strings.Join(comment, " "), unset: true})
			comment = nil
		case strings.HasPrefix(line, "#"):
			comment = append(comment, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		default:
			m := envLine.FindStringSubmatch(line)
			require.NotNil(t, m, "processor.env.template line %d is not NAME=value: %q", n+1, line)
			entries = append(entries, envEntry{name: m[1], value: m[2], comment: strings.Join(comment, " ")})
			comment = nil
		}
	}
	return entries
}

func TestProcessorTarball(t *testing.T) {
	dir := packages(t, "processor")
	root := repoRoot(t)
	files, modes := readTarGz(t, filepath.Join(dir, "processor-vm.tar.gz"))
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	require.Equal(t, []string{"cloud-init.yaml", "processor.env.template", "tre-processor", processorUnit}, names)
	require.Equal(t, os.FileMode(0o755), modes["tre-processor"])
	for _, name := range []string{"cloud-init.yaml", "processor.env.template", processorUnit} {
		require.Equal(t, os.FileMode(0o644), modes[name], name)
		src, err := os.ReadFile(filepath.Join(root, "processor-vm", name))
		require.NoError(t, err)
		require.Equal(t, string(src), string(files[name]), "%s is packaged unchanged", name)
	}
	checkBinary(t, files["tre-processor"], "processor-vm")
}

// TestEnvTemplateNamesEverySetting: one line per setting of the agent,
// none else, each under its description; a placeholder is named after its
// setting; a setting left unset on the VM says why.
func TestEnvTemplateNamesEverySetting(t *testing.T) {
	files := processorPackage(t)
	settings := processorSettings(t, files["tre-processor"])
	entries := parseEnvTemplate(t, string(files["processor.env.template"]))

	var want, got []string
	for _, s := range settings {
		want = append(want, s.name)
	}
	for _, e := range entries {
		got = append(got, e.name)
	}
	require.ElementsMatch(t, want, got, "processor.env.template names exactly the settings of `tre-processor settings`")
	for _, s := range settings {
		e := entries[slices.IndexFunc(entries, func(e envEntry) bool { return e.name == s.name })]
		require.Contains(t, e.comment, s.description, "%s has its description as a comment above it", s.name)
		if e.unset {
			require.Greater(t, len(e.comment), len(s.description)+10, "%s is commented out: say why", s.name)
		}
		if strings.Contains(e.value, "${") {
			require.Equal(t, "${"+s.name+"}", e.value, "a placeholder is the whole value and named after its setting")
		}
	}
}

// TestUnitOutlastsTheDrain: systemd must not SIGKILL the agent while it
// drains running bundles and cancels them.
func TestUnitOutlastsTheDrain(t *testing.T) {
	files := processorPackage(t)
	unit, err := parseUnit(string(files[processorUnit]))
	require.NoError(t, err)
	entries := parseEnvTemplate(t, string(files["processor.env.template"]))
	i := slices.IndexFunc(entries, func(e envEntry) bool { return e.name == "RP_DRAIN_TIMEOUT" })
	require.GreaterOrEqual(t, i, 0, "the env template sets RP_DRAIN_TIMEOUT")
	require.False(t, entries[i].unset, "the env template sets RP_DRAIN_TIMEOUT")
	drain, err := time.ParseDuration(entries[i].value)
	require.NoError(t, err, "RP_DRAIN_TIMEOUT is a fixed duration: the unit's TimeoutStopSec depends on it")
	stop, err := parseTimespan(unit.one(t, "Service", "TimeoutStopSec"))
	require.NoError(t, err)
	require.Greater(t, stop, drain+porter.DefaultGracePeriod,
		"TimeoutStopSec covers the drain (%s) and porter's SIGTERM-to-SIGKILL grace (%s)", drain, porter.DefaultGracePeriod)
	require.Equal(t, "SIGTERM", unit.one(t, "Service", "KillSignal"))
	require.Equal(t, "mixed", unit.one(t, "Service", "KillMode"),
		"SIGTERM goes to the agent only; the bundles are its to stop")
}

func TestUnit(t *testing.T) {
	files := processorPackage(t)
	unit, err := parseUnit(string(files[processorUnit]))
	require.NoError(t, err)
	require.Equal(t, "on-failure", unit.one(t, "Service", "Restart"))
	require.Equal(t, envFilePath, unit.one(t, "Service", "EnvironmentFile"))
	require.True(t, strings.HasPrefix(unit.one(t, "Service", "ExecStart"), "/usr/local/bin/tre-processor"))
	user := unit.one(t, "Service", "User")
	require.NotContains(t, []string{"", "root", "0"}, user, "a dedicated user, not root")
	require.Contains(t, strings.Fields(unit.one(t, "Service", "SupplementaryGroups")), "docker", "porter needs Docker's socket")
	require.Equal(t, "yes", unit.one(t, "Service", "NoNewPrivileges"))
	require.Contains(t, unit["Unit"]["After"][0], "docker.service")
	require.Equal(t, "multi-user.target", unit.one(t, "Install", "WantedBy"))
	// The user's home, where Porter and az keep their state, is the unit's
	// state directory.
	require.Equal(t, "/var/lib/"+unit.one(t, "Service", "StateDirectory"), unit.one(t, "Service", "WorkingDirectory"))
}

// cloudConfig is the part of cloud-init's schema the tests read.
type cloudConfig struct {
	PackageUpdate bool     `yaml:"package_update"`
	Packages      []string `yaml:"packages"`
	WriteFiles    []struct {
		Path        string `yaml:"path"`
		Owner       string `yaml:"owner"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
	Runcmd []any `yaml:"runcmd"`
}

// renderCloudInit renders cloud-init.yaml and the env template as
// Terraform would, with a distinct value per placeholder.
func renderCloudInit(t *testing.T, files map[string][]byte) (cloudInit, env string, vars map[string]string) {
	t.Helper()
	src := string(files["cloud-init.yaml"])
	envSrc := string(files["processor.env.template"])
	vars = map[string]string{}
	for name := range placeholders(envSrc) {
		vars[name] = "value-of-" + name
	}
	var err error
	cloudInit, err = renderTemplate(src, vars)
	require.NoError(t, err, "cloud-init.yaml renders with templatefile()")
	env, err = renderTemplate(envSrc, vars)
	require.NoError(t, err, "processor.env.template renders with templatefile()")
	return cloudInit, env, vars
}

func TestCloudInit(t *testing.T) {
	files := processorPackage(t)
	src := string(files["cloud-init.yaml"])
	require.True(t, strings.HasPrefix(src, "#cloud-config\n"), "cloud-init reads user data as cloud-config only with this header")

	// Its placeholders are the env template's: settings of the agent, which
	// Terraform passes, and nothing else.
	require.Equal(t, placeholders(string(files["processor.env.template"])), placeholders(src))

	rendered, env, vars := renderCloudInit(t, files)
	var cc cloudConfig
	require.NoError(t, yaml.Unmarshal([]byte(rendered), &cc), "the rendered cloud-init.yaml is YAML")
	// The source parses as YAML too (placeholders sit inside block scalars).
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(src), &raw))

	require.True(t, cc.PackageUpdate)
	require.Contains(t, cc.Packages, "docker.io")

	written := map[string]string{}
	for _, f := range cc.WriteFiles {
		written[f.Path] = f.Content
	}
	require.Contains(t, written, envFilePath)
	require.Equal(t, env, written[envFilePath], "cloud-init writes the env template's lines, filled in")
	for name, value := range vars {
		require.Contains(t, written[envFilePath], name+"="+value+"\n")
	}

	setup, ok := written[setupPath]
	require.True(t, ok, "cloud-init writes the setup script")
	require.Equal(t, []any{[]any{setupPath}}, cc.Runcmd, "runcmd runs the setup script")
	require.True(t, strings.HasPrefix(setup, "#!/bin/bash\n"))
	// The package is read with the VM's identity from the state account.
	require.Contains(t, setup, "az login --identity --client-id '"+vars["VMSS_MSI_ID"]+"'")
	require.Contains(t, setup, "package_account='"+vars["MGMT_STORAGE_ACCOUNT_NAME"]+"'")
	for _, step := range []string{
		"azure-cli", "useradd", "usermod -a -G docker",
		"mixin install exec", "mixin install terraform", "mixin install az", "ln -sf \"$porter_home/porter\" /usr/local/bin/porter",
		"az storage blob download", "/usr/local/bin/tre-processor", "/etc/systemd/system/" + processorUnit,
		"systemctl enable " + processorUnit, `case "${1:-all}" in`,
	} {
		require.Contains(t, setup, step)
	}
	unit, err := parseUnit(string(files[processorUnit]))
	require.NoError(t, err)
	require.Contains(t, setup, "service_user="+unit.one(t, "Service", "User")+"\n", "the user the unit runs as")
	require.Contains(t, setup, "home="+unit.one(t, "Service", "WorkingDirectory")+"\n")

	path := filepath.Join(t.TempDir(), "tre-processor-setup")
	require.NoError(t, os.WriteFile(path, []byte(setup), 0o755))
	out, err := exec.Command("bash", "-n", path).CombinedOutput()
	require.NoError(t, err, "the setup script parses: %s", out)
	if !haveShellcheck(t) {
		return
	}
	out, err = exec.Command("shellcheck", path).CombinedOutput()
	require.NoError(t, err, "shellcheck of the rendered setup script:\n%s", out)
}
