// Package porter implements the tre.Runner port on the porter CLI: the
// production bundle runner. For one job it does what AzureTRE's Resource
// Processor does for one request message (RP/vmss_porter/runner.py,
// RP/helpers/commands.py): run the prelude commands (az login, az acr
// login), ask `porter explain` which parameters the bundle takes, look each
// one up, run `porter <action>` (or `porter invoke --action`), and read the
// installation's outputs.
//
// It differs from AzureTRE where AzureTRE loses information:
//   - a non-zero exit is a failure even when porter printed nothing on
//     standard error (AzureTRE reported it as a success);
//   - a failing `porter explain` fails the job (AzureTRE ran the bundle
//     without parameters, #3950);
//   - outputs that cannot be read or parsed fail the job;
//   - parameter values never appear in messages or logs: the command line
//     shows `--param name=***`, and values passed to porter are scrubbed from
//     the output quoted in an error.
//
// Porter and its children run in their own process group, so that stopping
// a job (its context is cancelled) reaches the whole tree: SIGTERM, the
// grace period, then SIGKILL.
package porter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/tre"
)

// Defaults of Config.
const (
	DefaultPorter      = "porter"
	DefaultGracePeriod = 30 * time.Second
	DefaultOutputTail  = 4 << 10
)

// DefaultCredentialSets are the credential sets AzureTRE's agent applies
// and passes to every action.
var DefaultCredentialSets = []string{"arm_auth", "aad_auth"}

// Porter's texts that mean "no such installation". AzureTRE matches the
// same ones.
const (
	textNotFound     = "could not find installation"
	textNotInstalled = "The installation cannot be upgraded, because it is not installed."
)

// Result messages of the special cases. A plain success has none: the
// processor says that the action completed.
const (
	msgInstalledInstead = "the installation did not exist, so it was installed instead"
	msgNothingToDelete  = "nothing to uninstall: the installation does not exist"
)

// Config configures a Runner. Its slices and maps are copied by New.
type Config struct {
	// Porter is the porter binary: a path, or a name looked up on the
	// agent's PATH. Default "porter".
	Porter string
	// Registry is the bundle registry, e.g. "myacr.azurecr.io". Bundles are
	// referenced as <Registry>/<name>:v<version>. Required.
	Registry string
	// CredentialSets are passed to every action with --credential-set.
	// Default DefaultCredentialSets.
	CredentialSets []string
	// Env is the whole environment of porter and the prelude commands
	// (AzureTRE passes HOME, PATH, KEY_VAULT_URL and the ARM_*/AZURE_*
	// variables). Nothing of the agent's own environment is added: nil
	// means an empty environment.
	Env []string
	// AgentParameters are values of the agent's configuration by
	// AzureTRE's configuration key (bundle.AgentKeys: tfstate_container_name,
	// arm_use_msi, arm_environment, azure_environment, key_vault_url, ...),
	// found by parameter name. registry_server defaults to Registry.
	AgentParameters map[string]string
	// BundleParameters are the RP_BUNDLE_<X> environment variables of the
	// agent, by lower-case name <x>: the last place a parameter is looked
	// for.
	BundleParameters map[string]string
	// Prelude are commands (argument vectors) run before every job, in
	// order, e.g. {"az", "login", "--identity"}: logins expire, so
	// AzureTRE repeats them before every porter run. A failing one fails
	// the job with its output.
	Prelude [][]string
	// GracePeriod is how long a stopped job may take to exit after
	// SIGTERM before its process group is killed. Default
	// DefaultGracePeriod.
	GracePeriod time.Duration
	// OutputTail bounds the command output quoted in an error, in bytes.
	// Default DefaultOutputTail.
	OutputTail int
	// Logger receives one record per command run, with parameter values
	// redacted. Nil discards them.
	Logger *slog.Logger
}

// Runner runs bundle actions with the porter CLI. It is safe for
// concurrent use: it keeps no state between jobs (porter keeps its
// installations in its own storage).
type Runner struct {
	porter         string
	registry       string
	credentialSets []string
	env            []string
	sources        bundle.Sources
	prelude        [][]string
	grace          time.Duration
	outputTail     int
	rawTail        int
	log            *slog.Logger
	// after is the clock of the grace period (time.After; tests decide
	// when the period is over), pipeDrain the os/exec WaitDelay.
	after     func(time.Duration) <-chan time.Time
	pipeDrain time.Duration
}

var _ tre.Runner = (*Runner)(nil)

// New returns a runner for cfg, with its defaults applied. It returns a
// CodeInvalid error listing every problem of cfg.
func New(cfg Config) (*Runner, error) {
	var problems []tre.FieldError
	if strings.TrimSpace(cfg.Registry) == "" {
		problems = append(problems, tre.FieldError{Field: "Registry", Message: "is required"})
	}
	for i, argv := range cfg.Prelude {
		if len(argv) == 0 || argv[0] == "" {
			problems = append(problems, tre.FieldError{Field: fmt.Sprintf("Prelude[%d]", i), Message: "has no program"})
		}
	}
	if cfg.GracePeriod < 0 {
		problems = append(problems, tre.FieldError{Field: "GracePeriod", Message: "must not be negative"})
	}
	if cfg.OutputTail < 0 {
		problems = append(problems, tre.FieldError{Field: "OutputTail", Message: "must not be negative"})
	}
	if err := (bundle.Sources{Agent: cfg.AgentParameters}).Check(); err != nil {
		problems = append(problems, tre.FieldError{Field: "AgentParameters", Message: err.Error()})
	}
	if err := tre.InvalidFields("porter: invalid configuration", problems); err != nil {
		return nil, err
	}

	r := &Runner{
		porter:         orDefault(cfg.Porter, DefaultPorter),
		registry:       strings.TrimSuffix(strings.TrimSpace(cfg.Registry), "/"),
		credentialSets: slices.Clone(cfg.CredentialSets),
		// Never nil: os/exec gives a nil Env the agent's own environment.
		env: append([]string{}, cfg.Env...),
		sources: bundle.Sources{
			Agent: maps.Clone(cfg.AgentParameters), Bundle: maps.Clone(cfg.BundleParameters),
		},
		grace:      cfg.GracePeriod,
		outputTail: cfg.OutputTail,
		log:        cfg.Logger,
		after:      time.After,
		pipeDrain:  defaultPipeDrain,
	}
	if r.sources.Agent == nil {
		r.sources.Agent = map[string]string{}
	}
	if r.sources.Agent["registry_server"] == "" {
		r.sources.Agent["registry_server"] = r.registry
	}
	if len(r.credentialSets) == 0 {
		r.credentialSets = slices.Clone(DefaultCredentialSets)
	}
	for _, argv := range cfg.Prelude {
		r.prelude = append(r.prelude, slices.Clone(argv))
	}
	if r.grace == 0 {
		r.grace = DefaultGracePeriod
	}
	if r.outputTail == 0 {
		r.outputTail = DefaultOutputTail
	}
	// The raw tail is kept larger than the quoted one: stripping colour
	// codes and collapsing whitespace shrink it, and the "not installed"
	// texts must be found even when the quoted tail is small.
	r.rawTail = max(64<<10, 4*r.outputTail)
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Run runs the job: the prelude, `porter explain`, the action, and (except
// for uninstall) `porter installations output list`.
//
// Errors: CodeInvalid for a job that names no action, installation, bundle
// or version, or a parameter value that cannot be encoded; an *ExitError
// (message "porter install failed (exit 1): <output tail>; command: ...")
// when the action fails; wrapped errors for a failing prelude command,
// explain or output list; an error wrapping ctx.Err() when ctx ends first.
func (r *Runner) Run(ctx context.Context, job tre.Job) (tre.JobResult, error) {
	if err := validateJob(job); err != nil {
		return tre.JobResult{}, err
	}
	var stream io.Writer
	if job.Output != nil {
		stream = &streamWriter{w: job.Output}
	}
	log := r.log.With("installation", job.Installation, "action", job.Action)

	for _, argv := range r.prelude {
		c := command{what: preludeName(argv), path: argv[0], args: argv[1:], stream: stream}
		c.shown = c.what // its arguments may hold a password (az login -p)
		if _, err := r.run(ctx, log, c); err != nil {
			return tre.JobResult{}, fmt.Errorf("porter: prelude: %w", err)
		}
	}

	ref := r.reference(job)
	names, err := r.explain(ctx, log, ref)
	if err != nil {
		return tre.JobResult{}, fmt.Errorf("porter: explain %s: %w", ref, err)
	}
	params, err := r.parameters(job, names)
	if err != nil {
		return tre.JobResult{}, err
	}

	var message string
	_, err = r.run(ctx, log, r.actionCommand(job.Action, job.Installation, ref, params, stream))
	switch {
	case err == nil:
	case job.Action == "upgrade" && outputContains(err, textNotFound, textNotInstalled):
		// AzureTRE's rule: upgrading what is not there installs it.
		log.Info("the installation does not exist; installing it instead of upgrading")
		if _, err := r.run(ctx, log, r.actionCommand("install", job.Installation, ref, params, stream)); err != nil {
			return tre.JobResult{}, r.actionError(job, err)
		}
		message = msgInstalledInstead
	case job.Action == "uninstall" && outputContains(err, textNotFound):
		// Nothing to remove is what uninstall wants: AzureTRE's
		// "A success despite of underlying error".
		log.Info("the installation does not exist; nothing to uninstall")
		return tre.JobResult{Message: msgNothingToDelete}, nil
	default:
		return tre.JobResult{}, r.actionError(job, err)
	}

	if job.Action == "uninstall" {
		// Its installation, and with it its outputs, is gone.
		return tre.JobResult{}, nil
	}
	outputs, err := r.outputs(ctx, log, job.Installation, params)
	if err != nil {
		return tre.JobResult{}, fmt.Errorf("porter: %s succeeded, but its outputs could not be read: %w", job.Action, err)
	}
	return tre.JobResult{Outputs: outputs, Message: message}, nil
}

// actionError returns a failed action's error: an *ExitError as it is,
// because its text is the bundle's own error text the port promises;
// anything else (cancelled, porter not startable) with context.
func (r *Runner) actionError(job tre.Job, err error) error {
	if _, ok := errors.AsType[*ExitError](err); ok {
		return err
	}
	return fmt.Errorf("porter: %s %s: %w", job.Action, job.Installation, err)
}

func validateJob(job tre.Job) error {
	for _, f := range []struct{ name, value string }{
		{"action", job.Action}, {"installation", job.Installation},
		{"bundle", job.Bundle}, {"version", job.Version},
	} {
		if strings.TrimSpace(f.value) == "" {
			return tre.Errorf(tre.CodeInvalid, "porter: the job has no %s", f.name)
		}
		// They are porter arguments: one starting with "-" would be
		// read as a flag.
		if strings.HasPrefix(f.value, "-") {
			return tre.Errorf(tre.CodeInvalid, "porter: the job's %s %q is not valid", f.name, f.value)
		}
	}
	return nil
}

// reference is the bundle's OCI reference, as AzureTRE builds it.
func (r *Runner) reference(job tre.Job) string {
	return fmt.Sprintf("%s/%s:v%s", r.registry, job.Bundle, job.Version)
}

// actionCommand builds the porter command line of an action:
//
//	porter <action> <installation> --reference <ref> --param k=v ... --force --credential-set ... [--force-upgrade]
//	porter invoke --action <action> <installation> ...the same flags
func (r *Runner) actionCommand(action, installation, ref string, params []param, stream io.Writer) command {
	var args []string
	switch action {
	case "install", "upgrade", "uninstall":
		args = []string{action, installation}
	default:
		args = []string{"invoke", "--action", action, installation}
	}
	args = append(args, "--reference", ref)
	shown := slices.Clone(args)
	var secrets []string
	for _, p := range params {
		args = append(args, "--param", p.name+"="+p.value)
		shown = append(shown, "--param", p.name+"=***")
		secrets = append(secrets, p.secrets...)
	}
	tail := []string{"--force"}
	for _, cs := range r.credentialSets {
		tail = append(tail, "--credential-set", cs)
	}
	if action == "upgrade" {
		tail = append(tail, "--force-upgrade")
	}
	args = append(args, tail...)
	shown = append(shown, tail...)
	return command{
		what:    "porter " + action,
		path:    r.porter,
		args:    args,
		shown:   "porter " + strings.Join(shown, " "),
		secrets: secrets,
		stream:  stream,
	}
}

// preludeName is what a prelude command is called in messages and logs:
// the program's base name and the words before the first flag ("az acr
// login"). Flag values are left out, since they may be credentials.
func preludeName(argv []string) string {
	prog := argv[0]
	if i := strings.LastIndexByte(prog, '/'); i >= 0 {
		prog = prog[i+1:]
	}
	words := []string{prog}
	for _, a := range argv[1:] {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// streamWriter passes output on to the job's writer and never fails: a
// broken log consumer must not kill the bundle (a failed write would stop
// the copy from the pipe, and porter would die of SIGPIPE).
type streamWriter struct {
	w      io.Writer
	broken bool
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if !s.broken {
		if _, err := s.w.Write(p); err != nil {
			s.broken = true
		}
	}
	return len(p), nil
}
