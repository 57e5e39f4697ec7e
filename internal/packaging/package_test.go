package packaging

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/slowtest"
)

// testVersion is stamped into the packaged binaries by --version.
const testVersion = "v0.0.0-packaging-test"

// builds holds one run of scripts/package.sh per target ("handler",
// "processor"), shared by the tests: separate runs, so that a program that
// does not build fails only the tests of its own package.
var builds = map[string]*scriptRun{"handler": {}, "processor": {}}

type scriptRun struct {
	once sync.Once
	dir  string // output directory
	err  error
	log  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range builds {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
	os.Exit(code)
}

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// inCI reports whether a missing tool must fail the tests rather than skip
// them: CI is set (GitHub Actions, GitLab and most runners set CI=true), or
// TRE_REQUIRE_NODE=1, which this repository's .ci/run exports.
func inCI() bool {
	ci := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return (ci != "" && ci != "false" && ci != "0") || os.Getenv("TRE_REQUIRE_NODE") == "1"
}

// packages runs `scripts/package.sh <target>` once for all tests and
// returns its output directory. It skips when a tool the script needs is
// missing, except in CI.
func packages(t *testing.T, target string) string {
	t.Helper()
	slowtest.Require(t, "packaging ("+target+")")
	tools := []string{"bash", "go", "zip"}
	if target == "processor" {
		tools = []string{"bash", "go", "tar", "gzip"}
	}
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("scripts/package.sh %s needs %s, not found on PATH (Debian: apt-get install zip tar gzip)",
			target, strings.Join(missing, ", "))
		if inCI() {
			t.Fatal(msg + "; in CI (CI or TRE_REQUIRE_NODE=1) this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	root := repoRoot(t)
	b := builds[target]
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "tre-packaging-")
		if b.err != nil {
			return
		}
		goCmd, _ := exec.LookPath("go")
		// The web UI is built before the tests (make ui, which make
		// test-integration runs), never by them: a build here would
		// rewrite internal/webui/dist/app while other packages compile it.
		cmd := exec.Command(filepath.Join(root, "scripts", "package.sh"), "--out", b.dir, "--version", testVersion, "--without-ui", target)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GO="+goCmd, "SOURCE_DATE_EPOCH=1700000000")
		out, err := cmd.CombinedOutput()
		b.log, b.err = string(out), err
	})
	require.NoError(t, b.err, "scripts/package.sh %s failed:\n%s", target, b.log)
	return b.dir
}

// checkBinary checks a packaged program: a static linux/amd64 ELF built by
// scripts/package.sh's flags, from this module, and, where this machine
// can run it, that it reports testVersion. pkg is the program's package.
func checkBinary(t *testing.T, data []byte, pkg string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err, "not an ELF file")
	require.Equal(t, elf.ELFCLASS64, f.Class)
	require.Equal(t, elf.EM_X86_64, f.Machine)
	require.Equal(t, elf.ET_EXEC, f.Type, "a position-dependent executable, as CGO_ENABLED=0 builds")
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a dynamic loader is requested: not static")
		require.NotEqual(t, elf.PT_DYNAMIC, p.Type, "a dynamic section: not static")
	}
	libs, _ := f.ImportedLibraries()
	require.Empty(t, libs)

	info, err := buildinfo.Read(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, "github.com/tre-go/tre/"+pkg, info.Path)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	require.Equal(t, "linux", settings["GOOS"])
	require.Equal(t, "amd64", settings["GOARCH"])
	require.Equal(t, "0", settings["CGO_ENABLED"])
	require.Equal(t, "true", settings["-trimpath"])
	// -trimpath leaves -ldflags out of the build info; the -X string is in
	// the binary's data.
	require.True(t, bytes.Contains(data, []byte(testVersion)), "the version is stamped with -X main.version")

	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out := runBinary(t, data, "version")
		require.Equal(t, testVersion, strings.TrimSpace(out))
	}
}

// runBinary runs a packaged linux/amd64 program with args and returns its
// standard output.
func runBinary(t *testing.T, data []byte, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "program")
	require.NoError(t, os.WriteFile(path, data, 0o755))
	cmd := exec.Command(path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v: %s", path, args, stderr.String())
	return string(out)
}

// Template rendering as Terraform's templatefile() does it, for templates
// that use only ${NAME} interpolations: $${ and %%{ are escapes; any other
// ${...} or a %{ directive is refused, as is a NAME without a value
// (Terraform fails on it too).
var templateName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func renderTemplate(src string, vars map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(src); {
		switch rest := src[i:]; {
		case strings.HasPrefix(rest, "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(rest, "%%{"):
			b.WriteString("%{")
			i += 3
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", fmt.Errorf("line %d: unterminated ${", lineOf(src, i))
			}
			name := rest[2:end]
			if !templateName.MatchString(name) {
				return "", fmt.Errorf("line %d: ${%s} is an expression, not a plain placeholder (escape a shell $ as $$)", lineOf(src, i), name)
			}
			v, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("line %d: no value for ${%s}", lineOf(src, i), name)
			}
			b.WriteString(v)
			i += end + 1
		case strings.HasPrefix(rest, "%{"):
			return "", fmt.Errorf("line %d: %%{ starts a template directive (escape it as %%%%{)", lineOf(src, i))
		default:
			b.WriteByte(src[i])
			i++
		}
	}
	return b.String(), nil
}

// placeholders lists the ${NAME} placeholders of a template (escapes
// excluded).
func placeholders(src string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$+\{([^}]*)\}`).FindAllStringSubmatch(src, -1) {
		if strings.HasPrefix(m[0], "$${") {
			continue
		}
		out[m[1]] = true
	}
	return out
}

func lineOf(s string, i int) int { return strings.Count(s[:i], "\n") + 1 }

func TestRenderTemplate(t *testing.T) {
	vars := map[string]string{"A": "1", "B_2": "x y"}
	tests := []struct {
		src, want, err string
	}{
		{src: "a=${A} b=${B_2}", want: "a=1 b=x y"},
		{src: `echo "$${HOME}" $HOME $(date) %%{x}`, want: `echo "${HOME}" $HOME $(date) %{x}`},
		{src: "${C}", err: "no value for ${C}"},
		{src: "${ A }", err: "is an expression"},
		{src: "${lower(A)}", err: "is an expression"},
		{src: "%{ if A }", err: "directive"},
		{src: "x\n${A", err: "line 2: unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := renderTemplate(tt.src, vars)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, map[string]bool{"A": true, "B_2": true}, placeholders("${A} $${HOME} ${B_2} ${A}"))
}

// NCRONTAB (Azure Functions timers): six fields, seconds first.
var ncrontabFields = []struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ...
}{
	{name: "second", max: 59},
	{name: "minute", max: 59},
	{name: "hour", max: 23},
	{name: "day", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: strings.Fields("jan feb mar apr may jun jul aug sep oct nov dec")},
	{name: "day of week", max: 6, names: strings.Fields("sun mon tue wed thu fri sat")},
}

// checkNCRONTAB validates a six-field NCRONTAB expression: each field a
// list of *, v or a-b, each optionally /n, within the field's range.
func checkNCRONTAB(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != len(ncrontabFields) {
		return fmt.Errorf("%q has %d fields, NCRONTAB has 6 (second minute hour day month day-of-week)", expr, len(fields))
	}
	for i, field := range fields {
		spec := ncrontabFields[i]
		value := func(s string) (int, error) {
			for j, n := range spec.names {
				if strings.EqualFold(s, n) {
					return spec.min + j, nil
				}
			}
			v, err := strconv.Atoi(s)
			if err != nil || v < spec.min || v > spec.max {
				return 0, fmt.Errorf("%s %q is not from %d to %d", spec.name, s, spec.min, spec.max)
			}
			return v, nil
		}
		for _, item := range strings.Split(field, ",") {
			rng, step, hasStep := strings.Cut(item, "/")
			if hasStep {
				n, err := strconv.Atoi(step)
				if err != nil || n < 1 || n > spec.max-spec.min+1 {
					return fmt.Errorf("%q: %s step %q is not from 1 to %d", expr, spec.name, step, spec.max-spec.min+1)
				}
			}
			if rng == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			a, err := value(lo)
			if err != nil {
				return fmt.Errorf("%q: %w", expr, err)
			}
			if isRange {
				b, err := value(hi)
				if err != nil {
					return fmt.Errorf("%q: %w", expr, err)
				}
				if b < a {
					return fmt.Errorf("%q: %s range %q runs backwards", expr, spec.name, rng)
				}
			}
		}
	}
	return nil
}

func TestCheckNCRONTAB(t *testing.T) {
	tests := []struct {
		expr string
		ok   bool
	}{
		{"0 */5 * * * *", true},
		{"*/30 * * * * *", true},
		{"0 30 9 * Jan Mon", true},
		{"0 0 9-17/2 * * 1-5", true},
		{"0,30 0 0 1,15 * *", true},
		{"*/5 * * * *", false},  // five fields: Unix cron
		{"60 * * * * *", false}, // second out of range
		{"0 0 24 * * *", false},
		{"0 0 0 0 * *", false}, // days start at 1
		{"0 0 0 * 13 *", false},
		{"0 0 0 * * 7", false},
		{"*/0 * * * * *", false},
		{"0 10-5 * * * *", false},
		{"0 x * * * *", false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			err := checkNCRONTAB(tt.expr)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func parseUnit(src string) (unitFile, error) {
	u := unitFile{}
	section := ""
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				return nil, fmt.Errorf("line %d: %q is not key=value in a section", n+1, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, nil
}

// one returns the only value of a key, failing the test otherwise.
func (u unitFile) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	require.Len(t, v, 1, "[%s] %s", section, key)
	return v[0]
}

// parseTimespan reads a systemd time span ("7min", "420", "5min 30s").
func parseTimespan(s string) (time.Duration, error) {
	units := map[string]time.Duration{
		"us": time.Microsecond, "usec": time.Microsecond, "ms": time.Millisecond, "msec": time.Millisecond,
		"": time.Second, "s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	parts := regexp.MustCompile(`\s*(\d+)\s*([a-z]*)`).FindAllStringSubmatchIndex(s, -1)
	if len(parts) == 0 || strings.TrimSpace(s) == "infinity" {
		return 0, fmt.Errorf("%q is not a finite time span", s)
	}
	var total time.Duration
	end := 0
	for _, p := range parts {
		if p[0] != end {
			return 0, fmt.Errorf("%q is not a time span", s)
		}
		n, _ := strconv.Atoi(s[p[2]:p[3]])
		unit, ok := units[s[p[4]:p[5]]]
		if !ok {
			return 0, fmt.Errorf("%q: unknown unit %q", s, s[p[4]:p[5]])
		}
		total += time.Duration(n) * unit
		end = p[1]
	}
	if strings.TrimSpace(s[end:]) != "" {
		return 0, fmt.Errorf("%q is not a time span", s)
	}
	return total, nil
}

func TestParseTimespan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "7min", want: 7 * time.Minute},
		{in: "420", want: 420 * time.Second},
		{in: "5min 30s", want: 5*time.Minute + 30*time.Second},
		{in: "1h", want: time.Hour},
		{in: "infinity", err: true},
		{in: "7 fortnights", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTimespan(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPackageScript(t *testing.T) {
	root := repoRoot(t)
	script := filepath.Join(root, "scripts", "package.sh")
	info, err := os.Stat(script)
	require.NoError(t, err)
	require.NotZero(t, info.Mode().Perm()&0o111, "scripts/package.sh is executable")

	t.Run("help", func(t *testing.T) {
		out, err := exec.Command(script, "--help").CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), "Usage: scripts/package.sh")
	})
	t.Run("unknown argument", func(t *testing.T) {
		out, err := exec.Command(script, "--nope").CombinedOutput()
		require.Error(t, err)
		require.Contains(t, string(out), "unknown argument: --nope")
	})
	t.Run("shellcheck", func(t *testing.T) {
		if !haveShellcheck(t) {
			return
		}
		out, err := exec.Command("shellcheck", script).CombinedOutput()
		require.NoError(t, err, string(out))
	})
}

// haveShellcheck reports whether shellcheck is installed; without it the
// test skips, or fails when TRE_REQUIRE_SHELLCHECK=1 (CI installs it).
func haveShellcheck(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("shellcheck"); err == nil {
		return true
	}
	if os.Getenv("TRE_REQUIRE_SHELLCHECK") == "1" {
		t.Fatal("shellcheck is not installed, and TRE_REQUIRE_SHELLCHECK=1 requires it (apt-get install shellcheck)")
	}
	t.Skip("shellcheck not installed: shell scripts are not linted (apt-get install shellcheck; TRE_REQUIRE_SHELLCHECK=1 makes this a failure)")
	return false
}
