package infracheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Paths from this package's directory (where go test runs).
const (
	repoRoot        = "../.."
	infraDir        = "../../infra"
	templatesDir    = "../../templates"
	functionsDir    = "../../functions"
	processorDir    = "../../processor-vm"
	functionApp     = "../../infra/modules/functionapp"
	processorVM     = "../../infra/modules/processor"
	cosmosModule    = "../../infra/modules/cosmos"
	busModule       = "../../infra/modules/servicebus"
	cloudInitFile   = "../../processor-vm/cloud-init.yaml"
	envTemplateFile = "../../processor-vm/processor.env.template"
)

// Settings tables of the two programs, printed by their `settings` command,
// read once in TestMain.
var (
	handlerTable   []setting
	processorTable []setting
)

func TestMain(m *testing.M) {
	var err error
	if handlerTable, err = programSettings("../../handlers"); err == nil {
		processorTable, err = programSettings("../../processor-vm")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "infracheck:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// programSettings builds the program in pkg and parses the table its
// `settings` command prints.
func programSettings(pkg string) ([]setting, error) {
	dir, err := os.MkdirTemp("", "infracheck-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, filepath.Base(pkg))
	var stderr bytes.Buffer
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Stderr = &stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
	}
	stderr.Reset()
	cmd := exec.Command(bin, "settings")
	cmd.Stderr = &stderr
	// The settings command reads no configuration; an empty environment
	// makes sure of it.
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s settings: %w\n%s", pkg, err, stderr.String())
	}
	table, err := parseSettingsTable(string(out))
	if err != nil {
		return nil, fmt.Errorf("%s settings: %w", pkg, err)
	}
	return table, nil
}

// setting is one row of a settings table.
type setting struct {
	Name, Default, Description string
	// Platform rows are set by the platform (the Functions host, App
	// Service), never by Terraform.
	Platform bool
}

// parseSettingsTable parses the Markdown table of config.Markdown:
// "| `NAME` | `default` | description |" rows after a header. A row whose
// cells say "set by the platform" (or a cell that is just "platform") is a
// platform row.
func parseSettingsTable(md string) ([]setting, error) {
	var out []setting
	seen := map[string]bool{}
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			return nil, fmt.Errorf("settings row with fewer than 3 cells: %q", line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name := strings.Trim(cells[0], "`")
		if name == "" || strings.ContainsAny(name, " `") {
			return nil, fmt.Errorf("settings row without a setting name: %q", line)
		}
		if seen[name] {
			return nil, fmt.Errorf("setting %s appears twice", name)
		}
		seen[name] = true
		s := setting{Name: name, Default: strings.Trim(cells[1], "`"), Description: strings.Join(cells[2:], " | ")}
		for _, c := range cells[1:] {
			lc := strings.ToLower(c)
			if lc == "platform" || strings.Contains(lc, "set by the platform") {
				s.Platform = true
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no settings table in the output")
	}
	return out, nil
}

func names(table []setting) map[string]setting {
	m := make(map[string]setting, len(table))
	for _, s := range table {
		m[s.Name] = s
	}
	return m
}
