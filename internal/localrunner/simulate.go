package localrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/tre"
)

// Declarations finds the declaration of a bundle registered through the
// API (porter explain's parameters, credentials, outputs and mixins), for
// bundles whose files are not in the templates directory. The template
// registry is one (registry.Registry.Declaration). It returns an error of
// code tre.CodeNotFound when no template of that name and version was
// registered with one.
type Declarations interface {
	Declaration(ctx context.Context, name, version string) (*tre.BundleDeclaration, error)
}

// target is the bundle a job runs: one of the templates directory (m), or,
// for a simulation, its declaration (decl), from its manifest or from the
// registry when its files are not there.
type target struct {
	name, version string
	m             *bundle.Manifest
	// decl is set when the run is a simulation.
	decl *tre.BundleDeclaration
	// why says why the run is a simulation.
	why string
}

// target finds the job's bundle, and decides whether to run or simulate
// it: with Config.Simulate, a bundle whose steps need another mixin than
// exec, or whose files are not in the templates directory but whose
// declaration was registered, is simulated.
func (r *Runner) target(ctx context.Context, job tre.Job) (*target, error) {
	file, findErr := find(r.cfg.TemplatesDir, job.Bundle, job.Version)
	if findErr == nil {
		m, err := bundle.Read(file)
		if err != nil {
			return nil, fmt.Errorf("localrunner: %w", err)
		}
		t := &target{name: m.Name, version: m.Version, m: m}
		if other := otherMixins(m); r.cfg.Simulate && len(other) > 0 {
			t.decl = m.Explain().Declaration()
			t.why = fmt.Sprintf("its steps use the %s %s, which the local runner cannot run", strings.Join(other, ", "), plural(len(other), "mixin"))
		}
		return t, nil
	}
	if !errors.Is(findErr, bundle.ErrNotFound) || !r.cfg.Simulate || r.cfg.Declarations == nil {
		return nil, findErr
	}
	d, err := r.cfg.Declarations.Declaration(ctx, job.Bundle, job.Version)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, fmt.Errorf("%w; nor was a template %s %s registered with its bundle's declaration, to simulate it",
			findErr, job.Bundle, job.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("localrunner: declaration of %s %s: %w", job.Bundle, job.Version, err)
	}
	why := "it was registered through the API and its files are not in the templates directory"
	var other []string
	for _, mx := range d.Mixins {
		if mx != "exec" && !slices.Contains(other, mx) {
			other = append(other, mx)
		}
	}
	sort.Strings(other)
	if len(other) > 0 {
		why += fmt.Sprintf(" (its steps use the %s %s)", strings.Join(other, ", "), plural(len(other), "mixin"))
	}
	return &target{name: job.Bundle, version: job.Version, decl: d, why: why}, nil
}

// otherMixins returns the mixins other than exec that the bundle declares
// or its steps use, sorted.
func otherMixins(m *bundle.Manifest) []string {
	var out []string
	for _, a := range append([]string{""}, m.Actions()...) {
		for _, mx := range m.MixinsOf(a) {
			if mx != "exec" && !slices.Contains(out, mx) {
				out = append(out, mx)
			}
		}
	}
	sort.Strings(out)
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// simulation is a checked simulated run of one action: what Porter would
// refuse is refused; nothing else happens.
type simulation struct {
	t            *target
	job          tre.Job
	action       string
	installation string
	outputs      []tre.BundleOutput
	out          io.Writer
}

// simulation checks the parameters of a simulated run as Porter would
// before running the bundle: every parameter that applies to the action
// is looked up as the porter runner looks it up, a required one without a
// value fails with Porter's words, and a value must be of its declared
// type.
func (r *Runner) simulation(t *target, job tre.Job, action string) (*simulation, error) {
	if t.m != nil {
		if _, ok := t.m.Steps(action); !ok {
			return nil, fmt.Errorf("localrunner: bundle %s %s has no %s action (it has: %s)",
				t.name, t.version, action, strings.Join(t.m.Actions(), ", "))
		}
	}
	var missing []string
	for _, p := range t.decl.Parameters {
		if !p.AppliesTo(action) {
			continue
		}
		v, _, _ := r.cfg.Sources.Lookup(p.Name, job)
		if v == nil {
			if p.Required {
				missing = append(missing, p.Name)
			}
			continue
		}
		if _, err := render(v, p.Type); err != nil {
			return nil, fmt.Errorf("localrunner: bundle %s %s: parameter %s: %w", t.name, t.version, p.Name, err)
		}
	}
	if err := missingError(t.name, t.version, action, missing); err != nil {
		return nil, err
	}
	s := &simulation{t: t, job: job, action: action, installation: job.Installation, out: quiet{job.Output}}
	if action != tre.ActionUninstall {
		for _, o := range t.decl.Outputs {
			if o.AppliesTo(action) {
				s.outputs = append(s.outputs, o)
			}
		}
	}
	return s, nil
}

// run reports the simulation in the job's output and returns the declared
// outputs with placeholder values.
func (s *simulation) run() []tre.Output {
	fmt.Fprintf(s.out, "simulating %s of %s %s (installation %s): %s; no step runs and nothing is deployed\n",
		s.action, s.t.name, s.t.version, s.installation, s.t.why)
	var out []tre.Output
	for _, o := range s.outputs {
		v := simulatedOutput(o.Type, o.Name, s.installation, s.job.Parameters)
		out = append(out, tre.Output{Name: o.Name, Value: v, Type: o.Type})
		fmt.Fprintf(s.out, "simulated output %s = %v\n", o.Name, v)
	}
	fmt.Fprintln(s.out, "simulation completed")
	return out
}

// message is the result's message: it says plainly that the run was
// simulated, why, and which outputs are placeholders.
func (s *simulation) message() string {
	msg := fmt.Sprintf("Simulated by the local runner: %s %s did not run because %s; nothing was deployed",
		s.t.name, s.t.version, s.t.why)
	names := make([]string, len(s.outputs))
	for i, o := range s.outputs {
		names[i] = o.Name
	}
	switch len(names) {
	case 0:
	case 1:
		msg += fmt.Sprintf(", and its output %s is a placeholder", names[0])
	default:
		msg += fmt.Sprintf(", and its outputs (%s) are placeholders", strings.Join(names, ", "))
	}
	return msg + "."
}

// simulatedOutput is a simulated output's value. An output named as one
// of the job's parameters echoes it (a bundle that reports back an input,
// such as a workspace's client_id). AzureTRE's bundles report every output
// as a string, and their pipelines feed some to firewall rules (their
// processor parses the JSON lists): by the naming their templates follow,
// a simulated string output gets a value of the shape its consumers
// check, plainly not real (see simulatedShape). Any other is
// simulatedValue.
func simulatedOutput(typ, name, installation string, params map[string]any) any {
	if v, ok := params[name]; ok && v != nil {
		return v
	}
	if typ == "" || typ == "string" {
		if v := simulatedShape(name, params); v != nil {
			return v
		}
	}
	return simulatedValue(typ, name, installation)
}

// simulatedShape gives outputs named as AzureTRE's bundles name address,
// FQDN and service-tag outputs a value of that shape: address lists hold
// the resource's own address_space or the documentation prefix
// 192.0.2.0/24; FQDNs are under the reserved .invalid domain; a service
// tag is "Simulated". nil for other names.
func simulatedShape(name string, params map[string]any) any {
	fqdn := strings.ReplaceAll(name, "_", "-") + ".simulated.invalid"
	switch {
	case hasSuffix(name, "_addresses", "address_prefixes", "_address_space", "_address_spaces"):
		if space, _ := params["address_space"].(string); space != "" {
			return []any{space}
		}
		return []any{"192.0.2.0/24"}
	case hasSuffix(name, "_domains", "_fqdns_list"):
		return []any{fqdn}
	case hasSuffix(name, "_domain", "_fqdn"):
		return fqdn
	case hasSuffix(name, "_tag"):
		return "Simulated"
	}
	return nil
}

func hasSuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

// simulatedValue is a simulated output's value: deterministic for an
// installation, and marked as simulated where its type can carry a mark.
func simulatedValue(typ, name, installation string) any {
	switch typ {
	case "boolean":
		return false
	case "integer", "number":
		return float64(0)
	case "object":
		return map[string]any{"simulated": true}
	case "array":
		return []any{}
	}
	return fmt.Sprintf("simulated-%s-%s", name, installation)
}
