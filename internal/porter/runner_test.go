//go:build unix

package porter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// explainJSON is porter explain's output for the test bundle: parameters
// of every kind and every source (see testJob and newRig).
const explainJSON = `{
  "name": "tre-service-guacamole",
  "version": "1.2.3",
  "parameters": [
    {"name": "display_name", "type": "string", "applyTo": "All Actions"},
    {"name": "enable_airlock", "type": "boolean"},
    {"name": "vm_count", "type": "integer"},
    {"name": "disk_ratio", "type": "number"},
    {"name": "app_settings", "type": "string"},
    {"name": "address_spaces", "type": "string"},
    {"name": "password", "type": "string", "sensitive": true},
    {"name": "arm_environment", "type": "string"},
    {"name": "tfstate_container_name", "type": "string"},
    {"name": "firewall_policy_id", "type": "string"},
    {"name": "id", "type": "string"},
    {"name": "workspace_id", "type": "string"},
    {"name": "owner_id", "type": "string"},
    {"name": "parent_service_id", "type": "string"},
    {"name": "mgmt_acr_name", "type": "string"},
    {"name": "nullable", "type": "string"},
    {"name": "not_provided", "type": "string"},
    {"name": "display_name", "type": "string"}
  ],
  "outputs": [{"name": "ip", "type": "string"}]
}`

// outputsJSON is porter's output list, with its bug: object and list
// outputs come as strings with escaped quotes.
const outputsJSON = `[
  {"name": "ip", "type": "string", "value": "10.0.0.4"},
  {"name": "connection", "type": "string", "value": "{\\\"host\\\": \\\"10.0.0.4\\\", \\\"port\\\": 22}"},
  {"name": "fqdns", "type": "string", "value": "[\"a.example\",\"b.example\"]"},
  {"name": "note", "type": "string", "value": "not {json"},
  {"name": "enabled", "type": "boolean", "value": true}
]`

type rig struct {
	t    *testing.T
	dir  string
	cfg  Config
	spec fakeSpec
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, name := range []string{"porter", "az", "child"} {
		require.NoError(t, os.Symlink(exe, filepath.Join(dir, name)))
	}
	t.Cleanup(func() {
		// A safety net: a child the runner failed to kill.
		if b, err := os.ReadFile(filepath.Join(dir, "child.pid")); err == nil {
			if pid, err := strconv.Atoi(string(b)); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return &rig{
		t:   t,
		dir: dir,
		cfg: Config{
			Porter:   filepath.Join(dir, "porter"),
			Registry: "myacr.azurecr.io",
			Env: []string{
				"HOME=" + dir, "PATH=/usr/bin:/bin", "KEY_VAULT_URL=https://kv.example/",
				"ARM_CLIENT_ID=client-1", "ARM_USE_MSI=true",
			},
			AgentParameters: map[string]string{
				"tfstate_container_name": "tfstate",
				"arm_environment":        "public",
			},
			BundleParameters: map[string]string{
				"firewall_policy_id": "fw-policy-1",
				"id":                 "bundle-id",
				"owner_id":           "bundle-owner",
				"nullable":           "bundle-null",
			},
			Prelude: [][]string{
				{filepath.Join(dir, "az"), "login", "--identity"},
				{filepath.Join(dir, "az"), "acr", "login", "--name", "myacr"},
			},
			GracePeriod: 500 * time.Millisecond,
			OutputTail:  4096,
		},
		spec: fakeSpec{Steps: map[string]fakeStep{
			"explain": {Stdout: explainJSON},
			"output":  {Stdout: outputsJSON},
		}},
	}
}

// set tells the fake what to do for one command.
func (r *rig) set(key string, step fakeStep) { r.spec.Steps[key] = step }

func (r *rig) runner() *Runner {
	r.t.Helper()
	b, err := json.Marshal(r.spec)
	require.NoError(r.t, err)
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, "fake.json"), b, 0o600))
	run, err := New(r.cfg)
	require.NoError(r.t, err)
	return run
}

func (r *rig) run(job tre.Job) (tre.JobResult, error) {
	r.t.Helper()
	return r.runner().Run(context.Background(), job)
}

// calls returns the fake's calls, each as its program and arguments.
func (r *rig) calls() [][]string {
	r.t.Helper()
	var argvs [][]string
	for _, c := range r.fullCalls() {
		argvs = append(argvs, append([]string{c.Prog}, c.Args...))
	}
	return argvs
}

func (r *rig) fullCalls() []fakeCall {
	r.t.Helper()
	f, err := os.Open(filepath.Join(r.dir, "calls.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(r.t, err)
	defer f.Close()
	var calls []fakeCall
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c fakeCall
		require.NoError(r.t, json.Unmarshal(sc.Bytes(), &c))
		calls = append(calls, c)
	}
	require.NoError(r.t, sc.Err())
	return calls
}

func testJob(action string) tre.Job {
	return tre.Job{
		Action:       action,
		Installation: "ws-1234",
		ResourceType: tre.TypeUserResource,
		Bundle:       "tre-service-guacamole",
		Version:      "1.2.3",
		Parameters: map[string]any{
			"display_name":    "My service",
			"enable_airlock":  true,
			"vm_count":        float64(3),
			"disk_ratio":      0.25,
			"app_settings":    map[string]any{"site": "a&b", "n": float64(1)},
			"address_spaces":  []any{"10.1.0.0/24", "10.2.0.0/24"},
			"password":        "hunter2",
			"arm_environment": "job-env",
			"nullable":        nil,
		},
		Message: &tre.ResourceRequest{
			OperationID: "op-1", StepID: "main", Action: action, ID: "ws-1234",
			Name: "tre-service-guacamole", Version: "1.2.3",
			Parameters:  map[string]any{"display_name": "My service", "password": "REDACTED"},
			WorkspaceID: "ws-parent", OwnerID: "owner-9", ParentWorkspaceServiceID: "svc-7",
			ResourceType: tre.TypeUserResource,
		},
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const ref = "myacr.azurecr.io/tre-service-guacamole:v1.2.3"

// wantParams are the --param arguments for testJob, sorted by name: every
// lookup source and every encoding.
var wantParams = []string{
	"--param", "address_spaces=" + b64(`["10.1.0.0/24","10.2.0.0/24"]`),
	"--param", "app_settings=" + b64(`{"n":1,"site":"a&b"}`),
	"--param", "arm_environment=job-env", // the message's parameters beat the agent's
	"--param", "disk_ratio=0.25",
	"--param", "display_name=My service",
	"--param", "enable_airlock=true",
	"--param", "firewall_policy_id=fw-policy-1", // only in RP_BUNDLE_*
	"--param", "id=ws-1234", // the message root beats RP_BUNDLE_*
	"--param", "mgmt_acr_name=myacr",
	"--param", "owner_id=owner-9", // the special beats RP_BUNDLE_*
	"--param", "parent_service_id=svc-7",
	"--param", "password=hunter2",
	"--param", "tfstate_container_name=tfstate", // only in the agent's configuration
	"--param", "vm_count=3",
	"--param", "workspace_id=ws-parent",
	// nullable (null in the message) and not_provided are left out
}

var credentialFlags = []string{"--force", "--credential-set", "arm_auth", "--credential-set", "aad_auth"}

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

func TestRunCommandLines(t *testing.T) {
	t.Parallel()
	prelude := [][]string{
		{"az", "login", "--identity"},
		{"az", "acr", "login", "--name", "myacr"},
		{"porter", "explain", "--reference", ref, "--output", "json"},
	}
	outputList := []string{"porter", "installations", "output", "list", "--installation", "ws-1234", "--output", "json"}
	tests := []struct {
		action      string
		wantAction  []string
		wantOutputs bool
	}{
		{
			action:      "install",
			wantAction:  cat([]string{"porter", "install", "ws-1234", "--reference", ref}, wantParams, credentialFlags),
			wantOutputs: true,
		},
		{
			action:      "upgrade",
			wantAction:  cat([]string{"porter", "upgrade", "ws-1234", "--reference", ref}, wantParams, credentialFlags, []string{"--force-upgrade"}),
			wantOutputs: true,
		},
		{
			action:     "uninstall",
			wantAction: cat([]string{"porter", "uninstall", "ws-1234", "--reference", ref}, wantParams, credentialFlags),
		},
		{
			action:      "restart",
			wantAction:  cat([]string{"porter", "invoke", "--action", "restart", "ws-1234", "--reference", ref}, wantParams, credentialFlags),
			wantOutputs: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			res, err := r.run(testJob(tt.action))
			require.NoError(t, err)
			want := append(slices.Clone(prelude), tt.wantAction)
			if tt.wantOutputs {
				want = append(want, outputList)
				require.NotEmpty(t, res.Outputs)
			} else {
				require.Empty(t, res.Outputs)
			}
			require.Equal(t, want, r.calls())
			// A plain success needs no note: the processor says it completed.
			require.Empty(t, res.Message)
		})
	}
}

func TestRunPassesExactlyTheConfiguredEnvironment(t *testing.T) {
	t.Setenv("TRE_PORTER_TEST_CANARY", "must-not-leak")
	r := newRig(t)
	_, err := r.run(testJob("install"))
	require.NoError(t, err)

	calls := r.fullCalls()
	require.Len(t, calls, 5) // 2 prelude, explain, install, output list
	want := slices.Sorted(slices.Values(r.cfg.Env))
	for _, c := range calls {
		require.Equal(t, want, slices.Sorted(slices.Values(c.Env)), "environment of %s %v", c.Prog, c.Args)
		for _, kv := range c.Env {
			require.NotContains(t, kv, "TRE_PORTER_TEST_CANARY")
		}
	}
}

func TestRunWithNilEnvGivesAnEmptyEnvironment(t *testing.T) {
	t.Setenv("TRE_PORTER_TEST_CANARY", "must-not-leak")
	r := newRig(t)
	r.cfg.Env = nil
	r.cfg.Prelude = nil
	_, err := r.run(testJob("install"))
	require.NoError(t, err)
	calls := r.fullCalls()
	require.Len(t, calls, 3)
	for _, c := range calls {
		require.Empty(t, c.Env, "environment of %s %v", c.Prog, c.Args)
	}
}

func TestRunOutputs(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	res, err := r.run(testJob("install"))
	require.NoError(t, err)
	require.Equal(t, []tre.Output{
		{Name: "ip", Value: "10.0.0.4", Type: "string"},
		{Name: "connection", Value: map[string]any{"host": "10.0.0.4", "port": float64(22)}, Type: "string"},
		{Name: "fqdns", Value: []any{"a.example", "b.example"}, Type: "string"},
		{Name: "note", Value: "not {json", Type: "string"},
		{Name: "enabled", Value: true, Type: "boolean"},
	}, res.Outputs)
}

func TestRunNoOutputs(t *testing.T) {
	t.Parallel()
	for _, stdout := range []string{"", "[]\n"} {
		t.Run(strconv.Quote(stdout), func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.set("output", fakeStep{Stdout: stdout})
			res, err := r.run(testJob("install"))
			require.NoError(t, err)
			require.Empty(t, res.Outputs)
		})
	}
}

// exitError returns err's *ExitError, failing the test if there is none.
func exitError(t *testing.T, err error) *ExitError {
	t.Helper()
	e, ok := errors.AsType[*ExitError](err)
	require.True(t, ok, "not an *ExitError: %v", err)
	return e
}

func TestRunActionFailures(t *testing.T) {
	t.Parallel()
	filler := strings.Repeat("terraform: creating resource...\n", 400) // 12.8 KB
	tests := []struct {
		name       string
		action     string
		step       fakeStep
		outputTail int
		check      func(t *testing.T, err error)
	}{
		{
			name:   "non-zero exit without any output is a failure",
			action: "install",
			step:   fakeStep{Exit: 1},
			check: func(t *testing.T, err error) {
				e := exitError(t, err)
				require.Equal(t, 1, e.ExitCode)
				require.Equal(t, "", e.Output)
				require.True(t, strings.HasPrefix(err.Error(), "porter install failed (exit 1): no output; command: porter install ws-1234 --reference "+ref+" --param address_spaces=*** "), err.Error())
			},
		},
		{
			name:   "non-zero exit with output only on stdout is a failure",
			action: "upgrade",
			step:   fakeStep{Exit: 3, Stdout: "Error: something broke\n"},
			check: func(t *testing.T, err error) {
				e := exitError(t, err)
				require.Equal(t, 3, e.ExitCode)
				require.Equal(t, "Error: something broke", e.Output)
				require.True(t, strings.HasPrefix(err.Error(), "porter upgrade failed (exit 3): Error: something broke; command: porter upgrade ws-1234"), err.Error())
				require.True(t, strings.HasSuffix(err.Error(), "--force-upgrade"), err.Error())
			},
		},
		{
			name:   "custom action failure names invoke",
			action: "restart",
			step:   fakeStep{Exit: 2, Stderr: "Error: cannot restart\n"},
			check: func(t *testing.T, err error) {
				require.True(t, strings.HasPrefix(err.Error(), "porter restart failed (exit 2): Error: cannot restart; command: porter invoke --action restart ws-1234"), err.Error())
			},
		},
		{
			name:   "colour codes stripped, whitespace collapsed, tail bounded, secrets masked",
			action: "install",
			step: fakeStep{
				Exit:     1,
				Stdout:   filler,
				Stderr:   "\x1b[1;31mError:\x1b[0m  apply   failed\r\n\tfor \x1b[33mhunter2\x1b[0m\n\x1b]0;title\x07done\n",
				EchoArgs: true,
			},
			outputTail: 300,
			check: func(t *testing.T, err error) {
				e := exitError(t, err)
				msg := err.Error()
				require.LessOrEqual(t, len(e.Output), 300)
				require.True(t, strings.HasPrefix(e.Output, "..."), e.Output)
				require.True(t, strings.HasSuffix(e.Output, " --param password=*** --param ***_container_name=*** --param vm_count=3 --param workspace_id=ws-parent --force --credential-set arm_auth --credential-set aad_auth Error: apply failed for *** done"), e.Output)
				require.NotContains(t, e.Output, "terraform: creating")
				require.NotContains(t, msg, "\x1b")
				require.NotContains(t, msg, "[0m")
				require.NotContains(t, msg, "title")
				require.NotContains(t, msg, "hunter2")
				require.NotContains(t, msg, "  ")
				require.Contains(t, msg, "; command: porter install ws-1234")
				require.Contains(t, msg, "--param password=*** ")
			},
		},
		{
			name:   "values of maps and lists are masked too",
			action: "install",
			step:   fakeStep{Exit: 1, Stderr: "Error: bad address 10.1.0.0/24 in " + b64(`["10.1.0.0/24","10.2.0.0/24"]`) + "\n"},
			check: func(t *testing.T, err error) {
				require.Equal(t, "Error: bad address *** in ***", exitError(t, err).Output)
			},
		},
		{
			name:   "install of a missing installation is not special",
			action: "install",
			step:   fakeStep{Exit: 1, Stderr: "Error: could not find installation ws-1234\n"},
			check: func(t *testing.T, err error) {
				require.Equal(t, "Error: could not find installation ws-1234", exitError(t, err).Output)
			},
		},
		{
			name:   "uninstall failing otherwise fails",
			action: "uninstall",
			step:   fakeStep{Exit: 1, Stderr: "Error: terraform destroy failed\n"},
			check: func(t *testing.T, err error) {
				require.Equal(t, "Error: terraform destroy failed", exitError(t, err).Output)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			if tt.outputTail != 0 {
				r.cfg.OutputTail = tt.outputTail
			}
			key := tt.action
			if key != "install" && key != "upgrade" && key != "uninstall" {
				key = "invoke"
			}
			r.set(key, tt.step)
			res, err := r.run(testJob(tt.action))
			require.Error(t, err)
			require.Equal(t, tre.JobResult{}, res)
			tt.check(t, err)
			// A failed action reads no outputs and tries nothing else.
			calls := r.calls()
			require.Len(t, calls, 4)
			require.Equal(t, key, calls[3][1])
		})
	}
}

func TestRunUpgradeOfMissingInstallationInstalls(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"Error: could not find installation default/ws-1234: not found",
		"The installation cannot be upgraded, because it is not installed.",
	} {
		t.Run(text, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.set("upgrade", fakeStep{Exit: 1, Stderr: "\x1b[31m" + text + "\x1b[0m\n"})
			res, err := r.run(testJob("upgrade"))
			require.NoError(t, err)
			require.Equal(t, "the installation did not exist, so it was installed instead", res.Message)
			require.Len(t, res.Outputs, 5)

			calls := r.calls()
			require.Len(t, calls, 6)
			require.Equal(t, "upgrade", calls[3][1])
			require.Equal(t, cat([]string{"porter", "install", "ws-1234", "--reference", ref}, wantParams, credentialFlags), calls[4])
			require.Equal(t, "installations", calls[5][1])
		})
	}
}

func TestRunUpgradeOfMissingInstallationWhoseInstallFails(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.set("upgrade", fakeStep{Exit: 1, Stderr: "Error: could not find installation ws-1234\n"})
	r.set("install", fakeStep{Exit: 4, Stderr: "Error: quota exceeded\n"})
	_, err := r.run(testJob("upgrade"))
	e := exitError(t, err)
	require.Equal(t, "porter install", e.Command)
	require.Equal(t, 4, e.ExitCode)
	require.Equal(t, "Error: quota exceeded", e.Output)
	require.Len(t, r.calls(), 5) // no output list
}

func TestRunUpgradeFailingOtherwiseDoesNotInstall(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.set("upgrade", fakeStep{Exit: 1, Stderr: "Error: terraform plan failed\n"})
	_, err := r.run(testJob("upgrade"))
	require.Equal(t, "porter upgrade", exitError(t, err).Command)
	require.Len(t, r.calls(), 4)
}

func TestRunUninstallOfMissingInstallationSucceeds(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.set("uninstall", fakeStep{Exit: 1, Stderr: "Error: could not find installation default/ws-1234\n"})
	res, err := r.run(testJob("uninstall"))
	require.NoError(t, err)
	require.Equal(t, tre.JobResult{Message: "nothing to uninstall: the installation does not exist"}, res)
	calls := r.calls()
	require.Len(t, calls, 4) // no output list
	require.Equal(t, "uninstall", calls[3][1])
}

func TestRunOutputCollectionFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		step fakeStep
		want string
	}{
		{
			name: "exit",
			step: fakeStep{Exit: 1, Stderr: "Error: storage unavailable for hunter2\n"},
			want: "porter: install succeeded, but its outputs could not be read: porter installations output list failed (exit 1): Error: storage unavailable for ***; command: porter installations output list --installation ws-1234 --output json",
		},
		{
			name: "exit without stderr",
			step: fakeStep{Exit: 1},
			want: "porter: install succeeded, but its outputs could not be read: porter installations output list failed (exit 1): no output; command: porter installations output list --installation ws-1234 --output json",
		},
		{
			name: "not JSON",
			step: fakeStep{Stdout: "Name  Type  Value\nip  string  10.0.0.4\n"},
			want: "porter: install succeeded, but its outputs could not be read: porter installations output list printed no output list: invalid character 'N' looking for beginning of value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.set("output", tt.step)
			res, err := r.run(testJob("install"))
			require.EqualError(t, err, tt.want)
			require.Equal(t, tre.JobResult{}, res)
		})
	}
}

func TestRunExplainFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		step fakeStep
		want string
	}{
		{
			name: "exit",
			step: fakeStep{Exit: 1, Stdout: "{}", Stderr: "\x1b[31mError:\x1b[0m unable to pull bundle: unauthorized\n"},
			want: "porter: explain " + ref + ": porter explain failed (exit 1): Error: unable to pull bundle: unauthorized; command: porter explain --reference " + ref + " --output json",
		},
		{
			name: "exit with the error on stdout",
			step: fakeStep{Exit: 1, Stdout: "Error: manifest unknown\n"},
			want: "porter: explain " + ref + ": porter explain failed (exit 1): Error: manifest unknown; command: porter explain --reference " + ref + " --output json",
		},
		{
			name: "not JSON",
			step: fakeStep{Stdout: "Name: tre-service-guacamole\n"},
			want: "porter: explain " + ref + ": porter explain printed no bundle description: invalid character 'N' looking for beginning of value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.set("explain", tt.step)
			_, err := r.run(testJob("install"))
			require.EqualError(t, err, tt.want)
			// The bundle does not run without its parameters.
			require.Len(t, r.calls(), 3)
		})
	}
}

func TestRunPreludeFails(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.cfg.Prelude[1] = []string{filepath.Join(r.dir, "az"), "acr", "login", "--name", "myacr", "--password", "s3cret-token"}
	r.set("az acr login", fakeStep{Exit: 1, Stderr: "ERROR: The resource with name 'myacr' could not be found.\n"})
	_, err := r.run(testJob("install"))
	require.EqualError(t, err, "porter: prelude: az acr login failed (exit 1): ERROR: The resource with name 'myacr' could not be found.")
	require.Equal(t, [][]string{
		{"az", "login", "--identity"},
		{"az", "acr", "login", "--name", "myacr", "--password", "s3cret-token"},
	}, r.calls())
}

// watchWriter is a job's Output: it keeps what it gets and closes seen
// once it has got want.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func newWatchWriter(want string) *watchWriter {
	return &watchWriter{want: want, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := w.want != "" && strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && w.want != "" && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestRunStreamsOutput(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.set("az login", fakeStep{Stdout: "[{\"name\": \"sub\"}]\n"})
	r.set("install", fakeStep{Stdout: "executing install action\n", Stderr: "warning: slow\n"})
	r.set("output", fakeStep{Stdout: `[{"name": "secret_output", "type": "string", "value": "not for the stream"}]`})
	out := newWatchWriter("")
	job := testJob("install")
	job.Output = out
	_, err := r.run(job)
	require.NoError(t, err)
	// The prelude and the action, in order, stdout and stderr interleaved
	// as written; not explain's or output list's JSON.
	require.Equal(t, "[{\"name\": \"sub\"}]\nexecuting install action\nwarning: slow\n", out.String())
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken") }

func TestRunSurvivesABrokenOutputWriter(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.set("install", fakeStep{Stdout: strings.Repeat("line of output\n", 10000)})
	job := testJob("install")
	job.Output = brokenWriter{}
	res, err := r.run(job)
	require.NoError(t, err)
	require.Len(t, res.Outputs, 5)
}

// graceClock stands in for the grace period's timer: it tells when the
// runner starts a grace period, and ends it only when the test says, so
// that tests assert what happens before and after it, not how long
// anything took.
type graceClock struct {
	started chan time.Duration // the length of each grace period started
	over    chan time.Time     // closed to end them
}

func newGraceClock() *graceClock {
	return &graceClock{started: make(chan time.Duration, 8), over: make(chan time.Time)}
}

func (c *graceClock) after(d time.Duration) <-chan time.Time {
	c.started <- d
	return c.over
}

// receive returns the next value of ch, failing the test if none comes
// within a generous deadline (a hung runner, not a slow one).
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// running is a Run in progress.
type running struct {
	done   chan error
	cancel context.CancelFunc
}

// startUntilStarted starts job on a runner with the rig's clock and waits
// for the fake to say "started". A child left holding the output would
// hold Run for an hour (WaitDelay): only a kill of the group lets Run
// return within the tests' deadlines.
func startUntilStarted(t *testing.T, r *rig, clock *graceClock, job tre.Job) running {
	t.Helper()
	run := r.runner()
	run.after, run.pipeDrain = clock.after, time.Hour
	out := newWatchWriter("started\n")
	job.Output = out
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		_, err := run.Run(ctx, job)
		done <- err
	}()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("Run returned before the fake started: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the fake did not start")
	}
	return running{done: done, cancel: cancel}
}

// signals returns what the fakes recorded of the signals they got, sorted.
func (r *rig) signals() []string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "signals"))
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(got)
	return got
}

func (r *rig) childPID(t *testing.T) int {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(r.dir, "child.pid"))
	require.NoError(t, err)
	n, err := strconv.Atoi(string(pid))
	require.NoError(t, err)
	return n
}

func TestRunCancelTermsThenKillsTheProcessGroup(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	clock := newGraceClock()
	// Porter and its child ignore SIGTERM, and the child keeps the output
	// open: only a SIGKILL to the group ends them.
	r.set("install", fakeStep{Hang: true, Child: true})
	run := startUntilStarted(t, r, clock, testJob("install"))
	run.cancel()

	require.Equal(t, r.cfg.GracePeriod, receive(t, clock.started, "the grace period"))
	require.Eventually(t, func() bool {
		return slices.Equal([]string{"child: SIGTERM", "porter: SIGTERM"}, r.signals())
	}, 10*time.Second, 10*time.Millisecond, "SIGTERM reached the whole group first")
	select {
	case err := <-run.done:
		t.Fatalf("Run returned before the grace period was over: %v", err)
	default:
	}

	close(clock.over)
	err := receive(t, run.done, "Run to return after the grace period")
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "porter: install ws-1234: porter install stopped: context canceled")
	requireGone(t, r.childPID(t))
	// Nothing after the stopped action.
	require.Len(t, r.calls(), 4)
}

// requireGone fails unless process pid has ended (exited or a zombie that
// nobody reaped yet: in a container the reaper may be slow or absent).
func requireGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// The state follows the command name in parentheses.
		i := bytes.LastIndexByte(stat, ')')
		return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
	}, 5*time.Second, 10*time.Millisecond, "process %d still runs", pid)
}

// A porter that exits on SIGTERM ends the job at once: Run returns
// although the grace period never ends.
func TestRunCancelReturnsOnceTheProcessExits(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	clock := newGraceClock()
	r.set("install", fakeStep{Hang: true, ExitOnTerm: true})
	run := startUntilStarted(t, r, clock, testJob("install"))
	run.cancel()
	err := receive(t, run.done, "Run to return once porter exited")
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, r.cfg.GracePeriod, receive(t, clock.started, "the grace period"), "the period started and never ended")
	require.Equal(t, []string{"porter: SIGTERM"}, r.signals())
}

func TestRunCancelKillsWhatPorterLeftBehind(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	clock := newGraceClock()
	// Porter exits on SIGTERM; its child ignores it and holds no output,
	// so nothing but a kill of the group ends it (the grace period never
	// ends here).
	r.set("install", fakeStep{Hang: true, ExitOnTerm: true, Child: true, ChildQuiet: true})
	run := startUntilStarted(t, r, clock, testJob("install"))
	run.cancel()
	err := receive(t, run.done, "Run to return once porter exited")
	require.ErrorIs(t, err, context.Canceled)

	// (Whether the child recorded its SIGTERM before the kill is a race:
	// porter's exit triggers the kill.)
	require.Contains(t, r.signals(), "porter: SIGTERM")
	requireGone(t, r.childPID(t))
}

func TestRunCancelledBeforeStartRunsNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.runner().Run(ctx, testJob("install"))
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, r.calls())
}

func TestRunWithoutPorter(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.cfg.Porter = filepath.Join(r.dir, "no-such-porter")
	r.cfg.Prelude = nil
	_, err := r.run(testJob("install"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "porter: explain "+ref+": start porter explain: ")
}

func TestRunRejectsBadJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*tre.Job)
		want string
	}{
		{"no action", func(j *tre.Job) { j.Action = "" }, "porter: the job has no action"},
		{"no installation", func(j *tre.Job) { j.Installation = " " }, "porter: the job has no installation"},
		{"no bundle", func(j *tre.Job) { j.Bundle = "" }, "porter: the job has no bundle"},
		{"no version", func(j *tre.Job) { j.Version = "" }, "porter: the job has no version"},
		{"flag as installation", func(j *tre.Job) { j.Installation = "--help" }, `porter: the job's installation "--help" is not valid`},
		{"flag as action", func(j *tre.Job) { j.Action = "-x" }, `porter: the job's action "-x" is not valid`},
		{"value porter cannot take", func(j *tre.Job) { j.Parameters["password"] = func() {} }, "porter: the value of parameter password cannot be passed to porter: json: unsupported type: func()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			job := testJob("install")
			tt.edit(&job)
			_, err := r.run(job)
			require.EqualError(t, err, tt.want)
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New(Config{GracePeriod: -1, OutputTail: -1, Prelude: [][]string{{}}})
	require.EqualError(t, err, "porter: invalid configuration: Registry: is required; Prelude[0]: has no program; GracePeriod: must not be negative; OutputTail: must not be negative")
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))

	env := []string{"HOME=/h"}
	cfg := Config{Registry: "myacr.azurecr.io/", Env: env}
	run, err := New(cfg)
	require.NoError(t, err)
	env[0] = "HOME=/changed"
	require.Equal(t, "porter", run.porter)
	require.Equal(t, "myacr.azurecr.io", run.registry)
	require.Equal(t, []string{"arm_auth", "aad_auth"}, run.credentialSets)
	require.Equal(t, []string{"HOME=/h"}, run.env)
	require.Equal(t, DefaultGracePeriod, run.grace)
	require.Equal(t, DefaultOutputTail, run.outputTail)
}
