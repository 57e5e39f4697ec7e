package localrunner_test

import (
	"context"
	"encoding/base64"
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

	"github.com/tre-go/tre/internal/localrunner"
	"github.com/tre-go/tre/internal/tre"
)

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  localrunner.Config
		want []string
	}{
		{"nothing", localrunner.Config{}, []string{"TemplatesDir is required", "StateDir is required"}},
		{"negative grace", localrunner.Config{TemplatesDir: testBundles, StateDir: t.TempDir(), GracePeriod: -1}, []string{"GracePeriod"}},
		{"missing templates", localrunner.Config{TemplatesDir: filepath.Join(t.TempDir(), "nope"), StateDir: t.TempDir()}, []string{"is not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := localrunner.New(tt.cfg)
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParametersReachTheBundle(t *testing.T) {
	r, cfg := newRunner(t, testBundles)
	log := &logBuffer{}
	j := job("test-params", tre.ActionInstall, "inst-1", map[string]any{
		"greeting":   "hello world",
		"count":      float64(7), // as JSON decodes it
		"ratio":      0.250,
		"enabled":    true,
		"config":     map[string]any{"a": 1},
		"note":       "a note",
		"blob":       base64.StdEncoding.EncodeToString([]byte("binary!")),
		"words":      "one 'two three'",
		"undeclared": "ignored",
	})
	j.Output = log
	res, err := r.Run(context.Background(), j)
	require.NoError(t, err)
	require.Empty(t, res.Message, "a plain success leaves the message to the processor")

	out := log.String()
	root := "" // the bundle copy, read from the mapped argument
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "arg=[") && strings.HasSuffix(l, "/blob.bin]") {
			root = strings.TrimSuffix(strings.TrimPrefix(l, "arg=["), "/blob.bin]")
		}
	}
	require.True(t, strings.HasPrefix(root, cfg.WorkDir+string(filepath.Separator)), "the /cnab/app argument points into the bundle copy, got %q", root)
	var args []string
	for _, l := range strings.Split(out, "\n") {
		if a, ok := strings.CutPrefix(l, "arg=["); ok {
			args = append(args, strings.TrimSuffix(a, "]"))
		}
	}
	// Arguments, then flags sorted by name, split on whitespace unless
	// quoted; suffix arguments as they are.
	require.Equal(t, []string{
		"hello", "world", "inst-1", "test-params@0.1.0", "one", "two three", root + "/blob.bin",
		"--enabled", "true", "-n", "7", "--ratio", "0.25", "--tag", "a", "--tag", "info", "--verbose",
		"one 'two three'",
	}, args)
	require.Contains(t, out, "pwd=sub\n", "dir: /cnab/app/sub is the working directory")
	require.Contains(t, out, "env COUNT=7 RATIO=0.25 ENABLED=true LOG_LEVEL=info STEP_ENV=from hello world\n")
	require.Contains(t, out, "settings="+base64.StdEncoding.EncodeToString([]byte(`{"a":1}`))+"\n")
	require.Contains(t, out, "note=a note\n")
	require.Contains(t, out, "blob=binary!\n")
	require.NotContains(t, out, "PATH=", "suppress-output keeps the env step out of the log")

	_, err = os.Stat(root)
	require.ErrorIs(t, err, os.ErrNotExist, "the bundle copy is removed after the run")
}

func TestParameterDefaultsAndTypes(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	log := &logBuffer{}
	j := job("test-params", tre.ActionInstall, "inst-defaults", map[string]any{"greeting": "hi", "ratio": "1.50"})
	j.Output = log
	_, err := r.Run(context.Background(), j)
	require.NoError(t, err)
	require.Contains(t, log.String(), "env COUNT=3 RATIO=1.5 ENABLED=false LOG_LEVEL=info STEP_ENV=from hi\n")

	tests := []struct {
		param string
		value any
		want  string
	}{
		{"count", "many", "parameter count: the bundle declares it an integer"},
		{"count", 2.5, "parameter count: the bundle declares it an integer"},
		{"enabled", "yes please", "parameter enabled: the bundle declares it a boolean"},
		{"ratio", "half", "parameter ratio: the bundle declares it a number"},
		{"blob", "not base64!", "parameter blob: the bundle declares it a file"},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			_, err := r.Run(context.Background(), job("test-params", tre.ActionInstall, "inst-bad",
				map[string]any{"greeting": "hi", tt.param: tt.value}))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), fmtValue(tt.value), "errors name parameters, not values")
		})
	}
}

func fmtValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return strconv.FormatFloat(v.(float64), 'f', -1, 64)
}

func TestRequiredParameterMissingRunsNothing(t *testing.T) {
	r, cfg := newRunner(t, testBundles)
	_, err := r.Run(context.Background(), job("test-params", tre.ActionInstall, "inst-1", map[string]any{"count": 1}))
	require.EqualError(t, err, `localrunner: bundle test-params 0.1.0: install: parameter "greeting" is required`, "Porter's words")
	_, statErr := os.Stat(installationDir(cfg, "inst-1"))
	require.ErrorIs(t, statErr, os.ErrNotExist, "nothing ran: no installation was made")

	// A nil value counts as none, as AzureTRE's processor omits it.
	_, err = r.Run(context.Background(), job("test-params", tre.ActionInstall, "inst-1", map[string]any{"greeting": nil}))
	require.ErrorContains(t, err, `parameter "greeting" is required`)
}

func TestParametersOnlyForTheirActions(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	ctx := context.Background()
	_, err := r.Run(ctx, job("test-params", tre.ActionInstall, "inst-1", map[string]any{"greeting": "hi"}))
	require.NoError(t, err)
	log := &logBuffer{}
	j := job("test-params", tre.ActionUpgrade, "inst-1", map[string]any{"greeting": "hi"})
	j.Output = log
	_, err = r.Run(ctx, j)
	require.NoError(t, err)
	require.Contains(t, log.String(), "arg=[set]\narg=[hi]\n", "upgrade_only applies to upgrade and takes its default")

	// The install's env step sees no upgrade_only.
	res, err := r.Run(ctx, job("test-params", tre.ActionInstall, "inst-2", map[string]any{"greeting": "hi"}))
	require.NoError(t, err)
	require.NotContains(t, outputs(t, res)["environment"], "UPGRADE_ONLY")
}

func TestEnvironmentIsOnlyWhatTheRunnerGives(t *testing.T) {
	t.Setenv("LOCALRUNNER_TEST_CANARY", "do-not-leak-4711")
	r, cfg := newRunner(t, testBundles, func(c *localrunner.Config) {
		c.Sources.Bundle = map[string]string{"greeting": "from the runner's parameters"} // RP_BUNDLE_GREETING
	})
	res, err := r.Run(context.Background(), job("test-params", tre.ActionInstall, "inst-env", nil))
	require.NoError(t, err)
	// The regex captures the whole stdout, final line end included.
	env := strings.TrimRight(outputs(t, res)["environment"].(string), "\n")
	require.NotContains(t, env, "do-not-leak-4711")

	got := map[string]string{}
	for _, line := range strings.Split(env, "\n") {
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "env line %q", line)
		got[k] = v
	}
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	require.Equal(t, []string{
		"CNAB_ACTION", "CNAB_BUNDLE_NAME", "CNAB_BUNDLE_VERSION", "CNAB_INSTALLATION_NAME", "COUNT", "ENABLED",
		"GREETING", "HOME", "LOG_LEVEL", "PASSWORD", "PATH", "RATIO", "TRE_LOCAL_STATE_DIR", "WORDS",
	}, names)
	require.Equal(t, os.Getenv("PATH"), got["PATH"])
	require.Equal(t, filepath.Join(installationDir(cfg, "inst-env"), "home"), got["HOME"])
	require.Equal(t, stateDir(cfg, "inst-env"), got["TRE_LOCAL_STATE_DIR"])
	require.Equal(t, "install", got["CNAB_ACTION"])
	require.Equal(t, "inst-env", got["CNAB_INSTALLATION_NAME"])
	require.Equal(t, "test-params", got["CNAB_BUNDLE_NAME"])
	require.Equal(t, "0.1.0", got["CNAB_BUNDLE_VERSION"])
	require.Equal(t, "from the runner's parameters", got["GREETING"])
}

func TestMessageFieldsAsParameters(t *testing.T) {
	r, _ := newRunner(t, samples)
	log := &logBuffer{}
	// Parameters AzureTRE's processor takes from the message: id,
	// workspace_id, parent_service_id, owner_id.
	j := tre.Job{
		Action: tre.ActionInstall, Installation: "vm-0042", Bundle: "tre-user-resource-sandbox-vm", Version: "0.1.0",
		Parameters: map[string]any{"tre_id": "local", "azure_location": "local", "admin_password": "correct horse"},
		Message:    &tre.ResourceRequest{ID: "vm-0042", WorkspaceID: "ws-1", ParentWorkspaceServiceID: "svc-1", OwnerID: "owner-1"},
		Output:     log,
	}
	_, err := r.Run(context.Background(), j)
	require.NoError(t, err)
	require.Contains(t, log.String(), "VM vm-0042 (Standard_B2s) of service svc-1 in workspace ws-1")
}

func TestOutputs(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	ctx := context.Background()
	res, err := r.Run(ctx, job("test-outputs", tre.ActionInstall, "out-1", nil))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"deep":         "deep value",
		"first_number": float64(10),
		"flag":         true,
		"obj":          map[string]any{"k": "v"},
		"ids":          "1\n2", // every capture of every match, as Porter
		"from_file":    "from a file",
		"echoed":       "hidden", // an undeclared step output, used by a later step
		"install_only": "install-value",
	}, outputs(t, res))
	types := map[string]string{}
	for _, o := range res.Outputs {
		types[o.Name] = o.Type
	}
	require.Equal(t, "integer", types["first_number"])
	require.Equal(t, "string", types["from_file"], "no type means string")

	res, err = r.Run(ctx, job("test-outputs", tre.ActionUpgrade, "out-1", nil))
	require.NoError(t, err)
	got := outputs(t, res)
	require.Equal(t, "upgraded", got["from_file"], "upgrade changes what it produces")
	require.Equal(t, "install-value", got["install_only"], "an output applies only to its actions: upgrade's value is dropped")
	require.Equal(t, "deep value", got["deep"], "outputs of earlier runs are kept, as Porter lists them")

	tests := []struct {
		action, want string
	}{
		{"bad-type", "output count: the bundle declares it an integer, and the value is not one"},
		{"missing-file", `step "Forget to write the file": output from_file: the step wrote no file at nowhere.txt`},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			_, err := r.Run(ctx, job("test-outputs", tt.action, "out-1", nil))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestInstallationLifecycle(t *testing.T) {
	r, cfg := newRunner(t, testBundles)
	ctx := context.Background()

	res, err := r.Run(ctx, job("test-outputs", tre.ActionUninstall, "never", nil))
	require.NoError(t, err)
	require.Equal(t, "installation never does not exist: nothing to uninstall", res.Message)

	_, err = r.Run(ctx, job("test-outputs", "bad-type", "never", nil))
	require.EqualError(t, err, "localrunner: bad-type of test-outputs 0.1.0: installation never does not exist: install it before running a custom action")

	res, err = r.Run(ctx, job("test-outputs", tre.ActionUpgrade, "fresh", nil))
	require.NoError(t, err)
	require.Contains(t, res.Message, "installation fresh was not installed, so install ran instead of upgrade")
	require.Equal(t, "install-value", outputs(t, res)["install_only"], "the install's steps ran")

	_, err = r.Run(ctx, job("test-outputs", "no-such-action", "fresh", nil))
	require.EqualError(t, err, "localrunner: bundle test-outputs 0.1.0 has no no-such-action action (it has: install, upgrade, uninstall, bad-type, missing-file)")

	res, err = r.Run(ctx, job("test-outputs", tre.ActionUninstall, "fresh", nil))
	require.NoError(t, err)
	require.Empty(t, res.Message, "a plain success leaves the message to the processor")
	_, err = os.Stat(installationDir(cfg, "fresh"))
	require.ErrorIs(t, err, os.ErrNotExist, "uninstall removes the installation")
}

func TestBundleLookup(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	tests := []struct {
		name, bundle, version, want string
	}{
		{"other version", "test-params", "0.2.0", "localrunner: bundle test-params has no version 0.2.0 under "},
		{"unknown", "tre-nothing", "0.1.0", "localrunner: no bundle named tre-nothing under "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Run(context.Background(), tre.Job{Action: "install", Installation: "x", Bundle: tt.bundle, Version: tt.version})
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := r.Run(context.Background(), tre.Job{Action: "install", Installation: "x", Bundle: "test-params", Version: "0.2.0"})
	require.ErrorContains(t, err, "available: 0.1.0 (params/porter.yaml)")
	_, err = r.Run(context.Background(), tre.Job{Action: "install", Installation: "x", Bundle: "tre-nothing", Version: "0.1.0"})
	require.ErrorContains(t, err, "test-barrier, test-fails, test-mixin-terraform, test-outputs, test-params, test-simulated, test-step-az")

	_, err = r.Run(context.Background(), tre.Job{Action: "install", Installation: "../escape", Bundle: "test-params", Version: "0.1.0"})
	require.ErrorContains(t, err, `installation "../escape" must be`)
}

func TestOnlyExecMixin(t *testing.T) {
	r, cfg := newRunner(t, testBundles)
	tests := []struct {
		bundle, want string
	}{
		{"test-mixin-terraform", "localrunner: bundle test-mixin-terraform 0.1.0: its mixins list uses the terraform mixin: the local runner only runs exec steps"},
		{"test-step-az", "localrunner: bundle test-step-az 0.1.0: install step 2 uses the az mixin: the local runner only runs exec steps"},
	}
	for _, tt := range tests {
		t.Run(tt.bundle, func(t *testing.T) {
			_, err := r.Run(context.Background(), job(tt.bundle, tre.ActionInstall, "inst", nil))
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "run this bundle with Porter")
			_, statErr := os.Stat(installationDir(cfg, "inst"))
			require.ErrorIs(t, statErr, os.ErrNotExist, "refused before anything ran")
		})
	}
}

func TestFailedSteps(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	tests := []struct {
		mode     string
		exitCode int
		signal   string
		want     []string
		notWant  []string
	}{
		{mode: "quiet", exitCode: 3, want: []string{`step "Fail as asked" exited with code 3: (no output)`}},
		{mode: "noisy", exitCode: 1, want: []string{
			"exited with code 1:\n...\n", "progress line 3000 of a long", "Error: the last words",
		}, notWant: []string{"progress line 1 of", "\x1b"}},
		{mode: "signal", exitCode: -1, signal: "killed", want: []string{`step "Fail as asked" was killed by signal killed`}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			log := &logBuffer{}
			j := job("test-fails", tre.ActionInstall, "fail-"+tt.mode, map[string]any{"mode": tt.mode})
			j.Output = log
			_, err := r.Run(context.Background(), j)
			require.Error(t, err)
			var se *localrunner.StepError
			require.True(t, errors.As(err, &se))
			require.Equal(t, tt.exitCode, se.ExitCode)
			require.Equal(t, tt.signal, se.Signal)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			for _, w := range tt.notWant {
				require.NotContains(t, err.Error(), w)
			}
			require.LessOrEqual(t, len(se.Output), 4<<10+4, "the message is bounded")
			if tt.mode == "noisy" {
				require.Contains(t, log.String(), "progress line 1 of", "the whole output is streamed")
				require.Contains(t, log.String(), "\x1b[1;31m", "the stream keeps the colours the message drops")
			}
		})
	}
}

func TestSensitiveValuesAreCensored(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	const secret = "hunter2-is-my-password"
	for _, viaSecretRef := range []bool{false, true} {
		t.Run("secretRef="+strconv.FormatBool(viaSecretRef), func(t *testing.T) {
			log := &logBuffer{}
			j := job("test-fails", tre.ActionInstall, "leak", map[string]any{"mode": "leak", "password": secret})
			j.Output = log
			if viaSecretRef {
				// The manifest's sensitive flag is not needed when the API
				// says the parameter is a secret.
				j.Bundle, j.Parameters = "test-params", map[string]any{"greeting": secret}
				j.Message = &tre.ResourceRequest{SecretRefs: map[string]string{"greeting": "ref"}}
			}
			_, err := r.Run(context.Background(), j)
			if viaSecretRef {
				require.NoError(t, err)
				require.Contains(t, log.String(), "arg=[*******]", "the value of a parameter with a secret reference is censored")
			} else {
				require.Error(t, err)
				require.Contains(t, err.Error(), "login failed for *******")
				require.Contains(t, log.String(), "connecting with password *******")
			}
			require.NotContains(t, log.String(), secret)
			if err != nil {
				require.NotContains(t, err.Error(), secret)
			}
		})
	}
}

func TestCancelStopsTheStepWithSIGTERM(t *testing.T) {
	// The grace period never ends: only SIGTERM can stop the step.
	r, _ := newRunner(t, samples, withClock(newClock()))
	log := watchFor("working (1/30 s)")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := job("tre-workspace-sandbox", tre.ActionInstall, "ws-slow", map[string]any{
		"tre_id": "local", "azure_location": "local", "install_seconds": 30,
	})
	j.Output = log
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, j)
		done <- err
	}()
	receive(t, log.seen, "the install to start working")
	cancel()
	err := receive(t, done, "Run to return after cancellation")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, `step "Deploy the sandbox workspace" stopped (SIGTERM)`)
	require.Contains(t, log.String(), "sandbox: interrupted by SIGTERM: stopping", "the script's trap ran")
}

func TestCancelSignalsTheWholeProcessGroup(t *testing.T) {
	r, _ := newRunner(t, testBundles) // grace period 20s
	log := watchFor("ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := job("test-fails", tre.ActionInstall, "family", map[string]any{"mode": "family"})
	j.Output = log
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, j)
		done <- err
	}()
	select {
	case <-log.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never said it was ready")
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	require.ErrorContains(t, err, "stopped (SIGTERM)")
	require.Contains(t, log.String(), "child stopping", "the child process got SIGTERM too")
}

func TestCancelKillsAStepThatIgnoresSIGTERM(t *testing.T) {
	c := newClock()
	r, _ := newRunner(t, testBundles, withClock(c), func(c *localrunner.Config) { c.GracePeriod = 300 * time.Millisecond })
	log := watchFor("ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := job("test-fails", tre.ActionInstall, "stubborn", map[string]any{"mode": "stubborn"})
	j.Output = log
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, j)
		done <- err
	}()
	receive(t, log.seen, "the step to say it is ready")
	cancel()
	c.waitStarted(t, 300*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned before the grace period was over: %v", err)
	default:
	}
	c.fire(300 * time.Millisecond)
	err := receive(t, done, "Run to return after the grace period")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "killed (SIGKILL) after a 300ms grace period")
}

func TestStepProcessesDoNotOutliveTheStep(t *testing.T) {
	// The wait for the output pipes never times out here: Run returns only
	// because the step's process group, the leftover sleep included, was
	// killed when the step ended.
	r, cfg := newRunner(t, testBundles, withClock(newClock()))
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), job("test-fails", tre.ActionInstall, "daemon", map[string]any{"mode": "daemon"}))
		done <- err
	}()
	require.NoError(t, receive(t, done, "Run to return while the leftover process would hold its pipe for a minute"))
	b, err := os.ReadFile(filepath.Join(stateDir(cfg, "daemon"), "daemon.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// A zombie waiting for init is dead too.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		return len(fields) > 0 && fields[0] == "Z"
	}, 5*time.Second, 10*time.Millisecond, "the background sleep was killed")
	_ = syscall.Kill(pid, syscall.SIGKILL) // in case the assertion failed
}

func TestConcurrentRunsUseSeparateCopies(t *testing.T) {
	r, _ := newRunner(t, testBundles)
	barrier := t.TempDir()
	names := []string{"first", "second"}
	results := make([]tre.JobResult, len(names))
	errs := make([]error, len(names))
	// A run that fails stops the other, which would wait for it forever.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Run(ctx, job("test-barrier", tre.ActionInstall, name, map[string]any{"barrier": barrier}))
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for i, name := range names {
		require.NoError(t, errs[i])
		// Both runs wrote "who" in their bundle directory before either
		// read it back: a shared directory would give one the other's name.
		require.Equal(t, name, outputs(t, results[i])["who"])
	}
}

func TestRunsOfOneInstallationQueue(t *testing.T) {
	r, _ := newRunner(t, testBundles, func(c *localrunner.Config) { c.GracePeriod = 100 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := watchFor("ready")
	j := job("test-fails", tre.ActionInstall, "busy", map[string]any{"mode": "stubborn"})
	j.Output = log
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, j)
		done <- err
	}()
	select {
	case <-log.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never said it was ready")
	}
	waitCtx, waitCancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer waitCancel()
	_, err := r.Run(waitCtx, job("test-fails", tre.ActionUninstall, "busy", nil))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "waiting for another run of it")
	cancel()
	<-done
}
