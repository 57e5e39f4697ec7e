// Package localrunner is the LOCAL DEVELOPMENT bundle runner: an adapter of
// the tre.Runner port that simulates what Porter does for bundles whose
// steps use only the exec mixin, without Docker, an invocation image or
// Azure. It is not Porter and makes no Azure resources; production runs
// bundles with the porter CLI.
//
// The runner indexes a templates directory (every porter.yaml below it) and
// finds a job's bundle by name and version. For the job's action it runs
// the manifest's exec steps in order, each as a process in a fresh copy of
// the bundle directory (Porter's /cnab/app), with an environment that holds
// only PATH, a per-installation HOME, the CNAB_* variables, a persistent
// per-installation TRE_LOCAL_STATE_DIR (where sample bundles keep the
// resources they "deploy") and the bundle's parameters; never the runner's
// own environment. Parameters are passed as the manifest declares them (env,
// path, or Porter's default: the upper-cased name), with Porter's
// ${ bundle.… } templating in commands, arguments, flags, dir and envs, and
// Porter's flag rendering and whitespace splitting of arguments. Outputs come
// from the steps' outputs (file path, regex over stdout, simple JSON path)
// and are typed by the manifest's top-level outputs.
//
// Like Porter it keeps installations: an install that succeeds makes one,
// an upgrade of an installation that was never installed runs install (as
// AzureTRE's resource processor does), an uninstall of a missing
// installation succeeds with nothing to do, and values of sensitive
// parameters are censored from the bundle's logs.
//
// Bundles that need other mixins (terraform, az, helm, ...) are refused
// with a clear error, or, with Config.Simulate, simulated: their
// parameters are checked as Porter checks them and their declared outputs
// get placeholder values, but nothing runs (see Config.Simulate); so are
// bundles registered through the API whose files are not here. Not
// simulated at all: credentials, dependencies, images, parameter sources,
// parameters remembered from earlier runs, ignoreError, and processes that
// outlive their step (each step's process group is killed when it ends).
// The runner is Unix-only (process groups and signals).
package localrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/procgroup"
	"github.com/tre-go/tre/internal/tre"
)

// DefaultGracePeriod is how long a cancelled step has between SIGTERM and
// SIGKILL when the Config does not say.
const DefaultGracePeriod = 10 * time.Second

// envStateDir names the per-installation directory that survives between
// runs.
const envStateDir = "TRE_LOCAL_STATE_DIR"

// maxStdout bounds the stdout kept for regex and jsonPath outputs.
const maxStdout = 8 << 20

// drainTimeout bounds the wait for a step's output pipes after its
// processes are gone (a process that left the group may still hold them).
const drainTimeout = 2 * time.Second

// Config configures a Runner.
type Config struct {
	// TemplatesDir is searched for porter.yaml files, on every run (so
	// edits to bundles take effect without a restart). Required.
	TemplatesDir string
	// StateDir keeps installations, each in installations/<name>/: its
	// record (installation.json: bundle, whether installed, last outputs),
	// home/ (HOME of its processes) and state/ (TRE_LOCAL_STATE_DIR).
	// Uninstall removes the installation's directory. Required; created if
	// missing.
	StateDir string
	// WorkDir receives a fresh copy of the bundle for every run, removed
	// when the run ends. os.TempDir() if empty.
	WorkDir string
	// GracePeriod is how long a cancelled step may take to stop after
	// SIGTERM before it gets SIGKILL. DefaultGracePeriod if zero.
	GracePeriod time.Duration
	// Sources are where parameter values come from besides the job's own:
	// the processor's configuration and its RP_BUNDLE_* variables, looked
	// up as the porter runner does. Not logged.
	Sources bundle.Sources
	// Path is the PATH of bundle processes; the runner's PATH if empty.
	Path string
	// Simulate runs as a simulation what the runner cannot run: a bundle
	// whose steps use another mixin than exec (terraform, az, arm, docker,
	// ...), or one registered through the API whose files are not in
	// TemplatesDir (its declaration comes from Declarations). A simulation
	// checks the parameters as Porter would (a required one without a
	// value fails with Porter's words), runs nothing, gives the declared
	// outputs placeholder values ("simulated-<output>-<installation>",
	// false, 0, {"simulated": true}, []) and says so in the result's
	// Message. Without it such bundles are refused.
	Simulate bool
	// Declarations finds registered bundles' declarations for Simulate;
	// may be nil.
	Declarations Declarations
	// After is the runner's clock: it returns a channel that receives once
	// d has passed. It times the grace period of a cancelled step and the
	// wait for a finished step's output pipes. time.After if nil; tests
	// give their own, to decide when time passes.
	After func(d time.Duration) <-chan time.Time
}

// Runner runs exec-only Porter bundles locally. It is safe for concurrent
// use: runs of different installations proceed in parallel, runs of one
// installation one after the other.
type Runner struct {
	cfg   Config
	locks locks
}

var _ tre.Runner = (*Runner)(nil)

// New checks the configuration and returns a runner.
func New(cfg Config) (*Runner, error) {
	var problems []string
	if cfg.TemplatesDir == "" {
		problems = append(problems, "TemplatesDir is required")
	}
	if cfg.StateDir == "" {
		problems = append(problems, "StateDir is required")
	}
	if cfg.GracePeriod < 0 {
		problems = append(problems, "GracePeriod must not be negative")
	}
	if err := cfg.Sources.Check(); err != nil {
		problems = append(problems, "Sources: "+err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("localrunner: %s", strings.Join(problems, "; "))
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.Path == "" {
		cfg.Path = os.Getenv("PATH")
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	for _, d := range []*string{&cfg.TemplatesDir, &cfg.StateDir, &cfg.WorkDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return nil, fmt.Errorf("localrunner: %w", err)
		}
		*d = abs
	}
	if info, err := os.Stat(cfg.TemplatesDir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("localrunner: templates directory %s is not a directory", cfg.TemplatesDir)
	}
	for _, d := range []string{cfg.StateDir, cfg.WorkDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("localrunner: %w", err)
		}
	}
	return &Runner{cfg: cfg}, nil
}

// StepError is a bundle step that exited with a non-zero code or was
// killed. Its Output is the end of what the step wrote, safe to show to
// users: escape codes stripped, sensitive values censored, at most 4 KiB,
// last lines kept. Its message starts with the step's description and exit
// code.
type StepError struct {
	// Step is the step's description.
	Step string
	// ExitCode is the step's exit code, -1 when a signal killed it.
	ExitCode int
	// Signal names the signal that killed the step, if one did.
	Signal string
	// Output is the end of the step's stdout followed by the end of its
	// stderr.
	Output string
}

func (e *StepError) Error() string {
	how := fmt.Sprintf("exited with code %d", e.ExitCode)
	if e.Signal != "" {
		how = "was killed by signal " + e.Signal
	}
	out := e.Output
	if out == "" {
		out = "(no output)"
	}
	sep := ": "
	if strings.Contains(out, "\n") {
		sep = ":\n"
	}
	return fmt.Sprintf("step %q %s%s%s", e.Step, how, sep, out)
}

var (
	installationPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) })
	actionPattern       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })
)

func checkJob(job tre.Job) error {
	var problems []string
	if !installationPattern().MatchString(job.Installation) {
		problems = append(problems, fmt.Sprintf("installation %q must be 1 to 128 letters, digits, '.', '_' or '-'", job.Installation))
	}
	if !actionPattern().MatchString(job.Action) {
		problems = append(problems, fmt.Sprintf("action %q must be letters, digits, '.', '_' or '-'", job.Action))
	}
	if job.Bundle == "" || job.Version == "" {
		problems = append(problems, "the job must name its bundle and version")
	}
	if len(problems) > 0 {
		return fmt.Errorf("localrunner: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Run runs the job's action of its bundle for its installation and returns
// the installation's outputs (this run's, and earlier runs' for outputs it
// did not produce, as Porter lists them). An upgrade of an installation
// that was never installed runs install, and its Message says so; an
// uninstall of a missing installation succeeds with a Message saying there
// was nothing to uninstall; a custom action needs an installed
// installation. A failed step returns an error that wraps a *StepError; a
// cancelled run returns an error that wraps ctx.Err(). Other errors (no
// such bundle or action, another mixin than exec without Config.Simulate,
// a required parameter without a value) come before anything runs. A
// simulated run (Config.Simulate) runs no step, and its Message says it
// was simulated.
func (r *Runner) Run(ctx context.Context, job tre.Job) (tre.JobResult, error) {
	if err := checkJob(job); err != nil {
		return tre.JobResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return tre.JobResult{}, fmt.Errorf("localrunner: %s of %s: %w", job.Action, job.Installation, err)
	}
	t, err := r.target(ctx, job)
	if err != nil {
		return tre.JobResult{}, err
	}
	unlock, err := r.locks.lock(ctx, job.Installation)
	if err != nil {
		return tre.JobResult{}, err
	}
	defer unlock()
	rec, err := r.loadRecord(job.Installation)
	if err != nil {
		return tre.JobResult{}, err
	}
	if job.Action == tre.ActionUninstall && rec == nil {
		return r.uninstallMissing(job, t)
	}
	action, label, note, err := chooseAction(job, t, rec)
	if err != nil {
		return tre.JobResult{}, err
	}
	// Everything that can be refused is refused before anything runs.
	ex, err := r.plan(ctx, t, job, action, label)
	if err != nil {
		return tre.JobResult{}, err
	}
	ex.note = joinSentences(note, ex.note)
	return r.runRecorded(job, t, rec, action, label, ex)
}

// uninstallMissing answers an uninstall of an installation that does not
// exist: nothing to do but remove what a failed first run left.
func (r *Runner) uninstallMissing(job tre.Job, t *target) (tre.JobResult, error) {
	if err := os.RemoveAll(r.installationDir(job.Installation)); err != nil {
		return tre.JobResult{}, fmt.Errorf("localrunner: %s of %s %s: %w", job.Action, t.name, t.version, err)
	}
	return tre.JobResult{Message: fmt.Sprintf("installation %s does not exist: nothing to uninstall", job.Installation)}, nil
}

// chooseAction decides which action runs for the installation's record
// (nil when it does not exist): an upgrade of an installation that was
// never installed runs install, and the note says so; a custom action
// needs an installed installation. The label names the run in errors.
func chooseAction(job tre.Job, t *target, rec *record) (action, label, note string, err error) {
	action = job.Action
	label = fmt.Sprintf("%s of %s %s", action, t.name, t.version)
	custom := !slices.Contains(bundle.BuiltinActions, action)
	switch {
	case action == tre.ActionUpgrade && (rec == nil || !rec.Installed):
		action = tre.ActionInstall
		label = fmt.Sprintf("upgrade of %s %s (run as install: the installation was not installed)", t.name, t.version)
		note = fmt.Sprintf("installation %s was not installed, so install ran instead of upgrade (as AzureTRE's resource processor does)", job.Installation)
	case custom && rec == nil:
		return "", "", "", fmt.Errorf("localrunner: %s: installation %s does not exist: install it before running a custom action", label, job.Installation)
	case custom && !rec.Installed:
		return "", "", "", fmt.Errorf("localrunner: %s: installation %s is not installed (its install did not succeed): install it before running a custom action", label, job.Installation)
	}
	return action, label, note, nil
}

// execution is a run that passed every check: what it runs, the order of
// the outputs the bundle declares, and what a simulation says.
type execution struct {
	run         func(previous []tre.Output) ([]tre.Output, error)
	outputOrder []string
	note        string
}

// plan checks the run of action, as a simulation when the target has only
// a declaration, else as the exec steps of its manifest.
func (r *Runner) plan(ctx context.Context, t *target, job tre.Job, action, label string) (execution, error) {
	var ex execution
	if t.decl != nil {
		sim, err := r.simulation(t, job, action)
		if err != nil {
			return execution{}, err
		}
		ex.run = func(previous []tre.Output) ([]tre.Output, error) { return sim.run(), nil }
		for _, o := range t.decl.Outputs {
			ex.outputOrder = append(ex.outputOrder, o.Name)
		}
		ex.note = sim.message()
		return ex, nil
	}
	rc, err := r.prepare(t.m, job, action, label)
	if err != nil {
		return execution{}, err
	}
	ex.run = func(previous []tre.Output) ([]tre.Output, error) { return rc.run(ctx, previous) }
	for _, o := range t.m.Outputs {
		ex.outputOrder = append(ex.outputOrder, o.Name)
	}
	return ex, nil
}

// runRecorded runs the execution with the installation's record saying so,
// then records its result: an uninstall removes the installation, an
// install marks it installed, a success keeps the merged outputs.
func (r *Runner) runRecorded(job tre.Job, t *target, rec *record, action, label string, ex execution) (tre.JobResult, error) {
	dir := r.installationDir(job.Installation)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tre.JobResult{}, fmt.Errorf("localrunner: %s: %w", label, err)
	}
	if rec == nil {
		rec = &record{Name: job.Installation}
	}
	previous := rec.Outputs
	rec.Bundle, rec.Version, rec.LastAction, rec.LastResult = t.name, t.version, action, "running"
	if err := r.saveRecord(rec); err != nil {
		return tre.JobResult{}, err
	}

	outputs, runErr := ex.run(previous)
	if runErr != nil {
		rec.LastResult = "failed"
		if err := r.saveRecord(rec); err != nil {
			return tre.JobResult{}, errors.Join(runErr, err)
		}
		return tre.JobResult{}, runErr
	}
	// A plain success needs no message: the processor says the action
	// completed; only a special case (an upgrade run as an install, a
	// simulation) does.
	msg := ex.note
	if action == tre.ActionUninstall {
		if err := os.RemoveAll(dir); err != nil {
			return tre.JobResult{}, fmt.Errorf("localrunner: %s: remove the installation: %w", label, err)
		}
		return tre.JobResult{Outputs: outputs, Message: msg}, nil
	}
	if action == tre.ActionInstall {
		rec.Installed = true
	}
	rec.LastResult = "succeeded"
	rec.Outputs = mergeOutputs(ex.outputOrder, previous, outputs)
	if err := r.saveRecord(rec); err != nil {
		return tre.JobResult{}, err
	}
	return tre.JobResult{Outputs: slices.Clone(rec.Outputs), Message: msg}, nil
}

// prepare checks an exec run (steps, parameters), makes the installation's
// home and state directories, and ends processes an interrupted run left.
func (r *Runner) prepare(m *bundle.Manifest, job tre.Job, action, label string) (*runContext, error) {
	steps, err := execSteps(m, action)
	if err != nil {
		return nil, err
	}
	params, err := resolveParams(m, action, job, r.cfg.Sources)
	if err != nil {
		return nil, err
	}
	dir := r.installationDir(job.Installation)
	home, state := filepath.Join(dir, "home"), filepath.Join(dir, "state")
	for _, d := range []string{home, state} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("localrunner: %s: %w", label, err)
		}
	}
	// A step of this installation interrupted by a crash of the agent may
	// have left processes behind: end them before running again.
	if killed, err := procgroup.KillRecorded(dir); err != nil {
		return nil, fmt.Errorf("localrunner: %s: %w", label, err)
	} else if killed {
		fmt.Fprintf(quiet{job.Output}, "localrunner: ended processes left by an interrupted run of %s\n", job.Installation)
	}
	return &runContext{
		runner: r, m: m, job: job, action: action, label: label, steps: steps, params: params,
		home: home, state: state, out: quiet{job.Output},
	}, nil
}

// joinSentences joins two messages, either of which may be empty.
func joinSentences(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// runContext is one run of one action.
type runContext struct {
	runner      *Runner
	m           *bundle.Manifest
	job         tre.Job
	action      string
	label       string
	steps       []execStep
	params      []resolvedParam
	home, state string
	out         io.Writer

	root    string // the bundle copy: /cnab/app
	env     []string
	secrets []string
	tmpl    *templateContext
}

// run copies the bundle, writes the path parameters, runs the steps and
// returns the outputs of this run that the manifest declares for the
// action.
func (rc *runContext) run(ctx context.Context, previous []tre.Output) ([]tre.Output, error) {
	r, m, job := rc.runner, rc.m, rc.job
	root, err := os.MkdirTemp(r.cfg.WorkDir, "run-"+job.Installation+"-*")
	if err != nil {
		return nil, fmt.Errorf("localrunner: %s: %w", rc.label, err)
	}
	defer os.RemoveAll(root)
	rc.root = root
	if err := copyBundle(m.Dir(), root); err != nil {
		return nil, fmt.Errorf("localrunner: %s: copy the bundle: %w", rc.label, err)
	}
	if err := rc.passParams(previous); err != nil {
		return nil, err
	}

	fmt.Fprintf(rc.out, "executing %s action from %s %s (installation %s) with the local runner\n",
		rc.action, m.Name, m.Version, job.Installation)
	produced := map[string]string{}
	for _, s := range rc.steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("localrunner: %s: stopped before step %q: %w", rc.label, s.Description, err)
		}
		fmt.Fprintln(rc.out, s.Description)
		texts, err := rc.runStep(ctx, s)
		if err != nil {
			return nil, err
		}
		for k, v := range texts {
			produced[k] = v
			rc.tmpl.outputs[k] = v
		}
	}
	outputs, err := rc.declaredOutputs(produced)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(rc.out, "execution completed successfully!")
	return outputs, nil
}

// passParams builds what the steps see: the environment (the CNAB
// variables, the parameters that go to env), the parameters written to
// their paths, the values of ${ bundle.… } expressions (parameters, the
// previous run's outputs) and the sensitive values the logs censor.
func (rc *runContext) passParams(previous []tre.Output) error {
	r, m, job := rc.runner, rc.m, rc.job
	rc.env = []string{
		"PATH=" + r.cfg.Path,
		"HOME=" + rc.home,
		"CNAB_INSTALLATION_NAME=" + job.Installation,
		"CNAB_ACTION=" + rc.action,
		"CNAB_BUNDLE_NAME=" + m.Name,
		"CNAB_BUNDLE_VERSION=" + m.Version,
		envStateDir + "=" + rc.state,
	}
	rc.tmpl = &templateContext{
		bundleName: m.Name, bundleVersion: m.Version, installation: job.Installation,
		params: map[string]string{}, outputs: map[string]string{},
	}
	for _, o := range previous {
		rc.tmpl.outputs[o.Name] = outputText(o.Value)
	}
	for _, p := range rc.params {
		rc.tmpl.params[p.def.Name] = p.value
		if (p.def.Sensitive || rc.secretRef(p.def.Name)) && p.value != "" {
			rc.secrets = append(rc.secrets, p.value)
		}
		if env := p.def.EnvName(); env != "" {
			rc.env = append(rc.env, env+"="+p.value)
		}
		if p.def.Path != "" {
			if err := rc.writeParamFile(p); err != nil {
				return fmt.Errorf("localrunner: %s: parameter %s: %w", rc.label, p.def.Name, err)
			}
		}
	}
	return nil
}

// declaredOutputs types the outputs the steps produced that the manifest
// declares for the action, in the manifest's order.
func (rc *runContext) declaredOutputs(produced map[string]string) ([]tre.Output, error) {
	var outputs []tre.Output
	for _, d := range rc.m.Outputs {
		text, ok := produced[d.Name]
		if !ok || !d.AppliesTo(rc.action) {
			continue
		}
		v, err := typedOutput(text, d.DataType())
		if err != nil {
			return nil, fmt.Errorf("localrunner: %s: output %s: %w", rc.label, d.Name, err)
		}
		outputs = append(outputs, tre.Output{Name: d.Name, Value: v, Type: d.DataType()})
	}
	return outputs, nil
}

// secretRef reports whether the request names a secret reference for the
// parameter: the API found it sensitive, whatever the manifest says.
func (rc *runContext) secretRef(name string) bool {
	if rc.job.Message == nil {
		return false
	}
	_, ok := rc.job.Message.SecretRefs[name]
	return ok
}

// outputText renders a recorded output for ${ bundle.outputs.NAME }.
func outputText(v any) string {
	s, err := render(v, "")
	if err != nil {
		return ""
	}
	return s
}

// writeParamFile writes a parameter that goes to a path: its value, or
// for a file parameter the bytes its base64 value holds.
func (rc *runContext) writeParamFile(p resolvedParam) error {
	path, err := rc.mapPath(p.def.Path)
	if err != nil {
		return err
	}
	content := []byte(p.value)
	if p.def.DataType() == "file" {
		if content, err = decodeBase64(p.value); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, content, 0o600)
}

// mapPath turns a path of the bundle (under /cnab/app, or relative to it)
// into one in the bundle's copy, refusing any that would leave it.
func (rc *runContext) mapPath(p string) (string, error) {
	var rel string
	switch {
	case p == "/cnab/app":
		rel = "."
	case strings.HasPrefix(p, "/cnab/app/"):
		rel = strings.TrimPrefix(p, "/cnab/app/")
	case !filepath.IsAbs(p):
		rel = p
	default:
		return "", fmt.Errorf("%s is outside /cnab/app: the local runner only maps paths in the bundle's directory", p)
	}
	full := filepath.Join(rc.root, rel)
	if full != rc.root && !strings.HasPrefix(full, rc.root+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leaves the bundle's directory", p)
	}
	return full, nil
}

// mapArg points an argument that names a path under /cnab/app into the
// bundle's copy.
func (rc *runContext) mapArg(a string) string {
	if a == "/cnab/app" || strings.HasPrefix(a, "/cnab/app/") {
		return filepath.Join(rc.root, strings.TrimPrefix(a, "/cnab/app"))
	}
	return a
}

// runStep renders and runs one exec step and returns its outputs as text.
func (rc *runContext) runStep(ctx context.Context, s execStep) (map[string]string, error) {
	fail := func(err error) error {
		return fmt.Errorf("localrunner: %s: step %q: %w", rc.label, s.Description, err)
	}
	command, argv, err := rc.renderCommand(s)
	if err != nil {
		return nil, fail(err)
	}
	dir, err := rc.stepDir(s)
	if err != nil {
		return nil, fail(err)
	}
	env, err := rc.stepEnv(s)
	if err != nil {
		return nil, fail(err)
	}
	bin, err := rc.lookCommand(command, dir)
	if err != nil {
		return nil, fail(err)
	}
	stdout, err := rc.execute(ctx, s, command, bin, argv, dir, env)
	if err != nil {
		return nil, err
	}
	texts, err := rc.stepOutputs(s, stdout.buf.Bytes(), stdout.truncated)
	if err != nil {
		return nil, fail(err)
	}
	return texts, nil
}

// renderCommand renders a step's command and its arguments, flags and
// suffix arguments as Porter's exec mixin does, with paths under
// /cnab/app pointed into the bundle's copy.
func (rc *runContext) renderCommand(s execStep) (string, []string, error) {
	command, err := rc.tmpl.expand(s.Command)
	if err != nil {
		return "", nil, err
	}
	args, err := rc.tmpl.expandAll(s.Arguments)
	if err != nil {
		return "", nil, err
	}
	suffix, err := rc.tmpl.expandAll(s.SuffixArguments)
	if err != nil {
		return "", nil, err
	}
	flags, err := s.flags()
	if err != nil {
		return "", nil, err
	}
	for i := range flags {
		if flags[i].Values, err = rc.tmpl.expandAll(flags[i].Values); err != nil {
			return "", nil, err
		}
	}
	argv := commandLine(args, flags, suffix)
	for i := range argv {
		argv[i] = rc.mapArg(argv[i])
	}
	return command, argv, nil
}

// stepDir is the directory a step runs in: the bundle's copy, or its dir
// mapped into it.
func (rc *runContext) stepDir(s execStep) (string, error) {
	if s.Dir == "" {
		return rc.root, nil
	}
	d, err := rc.tmpl.expand(s.Dir)
	if err != nil {
		return "", err
	}
	return rc.mapPath(d)
}

// stepEnv is the run's environment plus the step's envs, which may not
// set the reserved variables.
func (rc *runContext) stepEnv(s execStep) ([]string, error) {
	env := slices.Clone(rc.env)
	for _, k := range sortedKeys(s.Envs) {
		if !envNamePattern().MatchString(k) || reservedEnv[k] || strings.HasPrefix(k, "CNAB_") {
			return nil, fmt.Errorf("envs: %s cannot be set by a step", k)
		}
		v, err := rc.tmpl.expand(s.Envs[k])
		if err != nil {
			return nil, err
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

// lookCommand finds the program of a step: a path (under /cnab/app, or
// relative to the step's directory), or a name searched in the bundle's
// PATH.
func (rc *runContext) lookCommand(command, dir string) (string, error) {
	if strings.Contains(command, "/") {
		p := rc.mapArg(command)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(rc.runner.cfg.Path) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, command)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s is not in the bundle's PATH", command)
}

// execute runs a step's process in its own process group, streams its
// combined output (sensitive values censored) to the job's Output, and
// stops it when ctx ends: SIGTERM to the group, then SIGKILL after the
// grace period.
func (rc *runContext) execute(ctx context.Context, s execStep, name, bin string, argv []string, dir string, env []string) (*capped, error) {
	p, err := rc.start(s, name, bin, argv, dir, env)
	if err != nil {
		return nil, err
	}
	out := rc.capture(p, s.SuppressOutput)
	pgid := p.cmd.Process.Pid
	instDir := rc.runner.installationDir(rc.job.Installation)
	if err := procgroup.Record(instDir, pgid); err != nil {
		_ = procgroup.Kill(pgid)
	}
	defer procgroup.Forget(instDir)
	stopped, waitErr := rc.wait(ctx, p.cmd, pgid)
	// As a container ends with its bundle, nothing the step started
	// outlives it.
	_ = procgroup.Kill(pgid)
	rc.drain(p, out.drained)

	if stopped != "" {
		return nil, fmt.Errorf("localrunner: %s: step %q %s: %w", rc.label, s.Description, stopped, ctx.Err())
	}
	if waitErr != nil {
		return nil, fmt.Errorf("localrunner: %s: %w", rc.label, stepError(s, waitErr, out))
	}
	return out.stdout, nil
}

// stepProcess is a started step: its process and the read ends of its
// output pipes.
type stepProcess struct {
	cmd              *exec.Cmd
	stdoutR, stderrR *os.File
}

// start starts a step's process in its own process group.
func (rc *runContext) start(s execStep, name, bin string, argv []string, dir string, env []string) (*stepProcess, error) {
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("localrunner: %s: %w", rc.label, err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutR.Close()
		stdoutW.Close()
		return nil, fmt.Errorf("localrunner: %s: %w", rc.label, err)
	}
	// The process gets the write ends as files, so Wait returns when it
	// exits rather than when every process holding the pipes does.
	cmd, startErr := startBusyTolerant(func() *exec.Cmd {
		return &exec.Cmd{
			Path: bin, Args: append([]string{name}, argv...), Dir: dir, Env: env,
			Stdout: stdoutW, Stderr: stderrW,
			SysProcAttr: procgroup.Attr(),
		}
	})
	stdoutW.Close()
	stderrW.Close()
	if startErr != nil {
		stdoutR.Close()
		stderrR.Close()
		return nil, fmt.Errorf("localrunner: %s: step %q: %w", rc.label, s.Description, startErr)
	}
	return &stepProcess{cmd: cmd, stdoutR: stdoutR, stderrR: stderrR}, nil
}

// streams is what is kept of a step's output: its stdout (for the
// outputs) and the tails of both streams (for the error message).
// drained is closed when both streams are copied.
type streams struct {
	stdout                 *capped
	stdoutTail, stderrTail *ring
	drained                chan struct{}
}

// capture copies the step's streams to the job's Output (unless
// suppressed), censoring sensitive values, and keeps what streams says.
func (rc *runContext) capture(p *stepProcess, suppress bool) *streams {
	var sink io.Writer = rc.out
	if suppress {
		sink = io.Discard
	}
	// Each stream is censored on its own (a value split across two writes
	// of one stream is still caught) and kept for the error message; the
	// log gets both, in the order they arrive.
	log := &lockedWriter{w: sink}
	out := &streams{stdout: &capped{limit: maxStdout}, stdoutTail: &ring{}, stderrTail: &ring{}, drained: make(chan struct{})}
	stdoutCensor := newCensor(io.MultiWriter(log, out.stdoutTail), rc.secrets)
	stderrCensor := newCensor(io.MultiWriter(log, out.stderrTail), rc.secrets)
	var copiers sync.WaitGroup
	copiers.Add(2)
	go func() {
		defer copiers.Done()
		_, _ = io.Copy(io.MultiWriter(out.stdout, stdoutCensor), p.stdoutR)
		stdoutCensor.flush()
	}()
	go func() {
		defer copiers.Done()
		_, _ = io.Copy(stderrCensor, p.stderrR)
		stderrCensor.flush()
	}()
	go func() {
		copiers.Wait()
		close(out.drained)
	}()
	return out
}

// wait waits for the step's process to exit, or when ctx ends stops its
// group: SIGTERM, then SIGKILL after the grace period. stopped says how
// it was stopped, empty when it exited by itself.
func (rc *runContext) wait(ctx context.Context, cmd *exec.Cmd, pgid int) (stopped string, err error) {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return "", err
	case <-ctx.Done():
	}
	_ = procgroup.Terminate(pgid)
	select {
	case err := <-exited:
		return "stopped (SIGTERM)", err
	case <-rc.runner.cfg.After(rc.runner.cfg.GracePeriod):
		_ = procgroup.Kill(pgid)
		err := <-exited
		return fmt.Sprintf("killed (SIGKILL) after a %s grace period", rc.runner.cfg.GracePeriod), err
	}
}

// drain waits for the step's output to be copied, closing the pipes after
// drainTimeout if a process that left the group still holds them.
func (rc *runContext) drain(p *stepProcess, drained <-chan struct{}) {
	select {
	case <-drained:
	case <-rc.runner.cfg.After(drainTimeout):
		p.stdoutR.Close()
		p.stderrR.Close()
		<-drained
	}
	p.stdoutR.Close()
	p.stderrR.Close()
}

// stepError describes a step that failed: its exit code or signal, and
// the end of its output unless it is suppressed.
func stepError(s execStep, waitErr error, out *streams) *StepError {
	se := &StepError{Step: s.Description, ExitCode: -1}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		se.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			se.Signal = ws.Signal().String()
		}
	} else {
		se.Output = waitErr.Error()
	}
	if s.SuppressOutput {
		se.Output = "(the step's output is suppressed)"
	} else if se.Output == "" {
		se.Output = failureText(out.stdoutTail, out.stderrTail, maxTail)
	}
	return se
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// startBusyTolerant starts the command newCmd makes, again while exec
// answers ETXTBSY ("text file busy"). The bundle's scripts are copied into
// the run's directory just before they run; a process forked meanwhile by
// any goroutine of this program (another run, say) holds the copy's
// descriptor open for writing until its own exec closes it, and exec of a
// file open for writing fails. The window is that fork's, so it passes
// quickly; cmd/go retries its test binaries the same way.
func startBusyTolerant(newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	wait := time.Millisecond
	for try := 1; ; try++ {
		cmd := newCmd()
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			return cmd, err
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}
