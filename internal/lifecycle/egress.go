package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/lock"
	"github.com/tre-go/tre/internal/pipeline"
	"github.com/tre-go/tre/internal/tre"
)

// The firewall service keeps the egress rules of Azure Firewall equal to
// what resources declare. The desired state is a pure function of the
// store: every enabled resource that is being installed, is installed or
// is being uninstalled contributes the rules its template declares
// (substituted with the resource's values) and those its bundle reported
// in the egress_rules output; admins add manual rule sets, which take
// precedence. An owner whose rules are invalid is left out (and its
// operation's firewall step fails naming the rule); nobody else is
// affected.
//
// Operations of resources that declare egress get a firewall step, run by
// the control plane: before the main step of an install (the bundle may
// need the egress while it runs) or an upgrade (the new set applies), and
// after the main step of an uninstall (rules stay until the resources that
// used them are gone). The step reconciles the whole firewall under a
// lease, so several handler instances write one at a time.

// FirewallOptions turns the firewall service on.
type FirewallOptions struct {
	Backend tre.Firewall
	Config  firewall.Config
	// Holder names this instance in the lease document.
	Holder string
}

type firewallService struct {
	backend    tre.Firewall
	cfg        firewall.Config
	reconciler *firewall.Reconciler

	// ctx bounds the background work; StopFirewall cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running bool
	again   bool
	wg      sync.WaitGroup
}

// Firewall documents in tre.FirewallRules.
const (
	firewallStatusID = "reconcile-status"
	manualPrefix     = "manual-"
)

// FirewallStatus is the last reconcile's record.
type FirewallStatus struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	Result firewall.Result `json:"result"`
	// Problems are the owners left out of the desired state, and why.
	Problems []OwnerProblem `json:"problems"`
}

// OwnerProblem says why an owner's rules are not in the firewall.
type OwnerProblem struct {
	Owner   tre.RuleOwner `json:"owner"`
	Message string        `json:"message"`
}

// ManualRules is an admin's rule set.
type ManualRules struct {
	ID          string           `json:"id"`
	Kind        string           `json:"kind"`
	Name        string           `json:"name"`
	Rules       firewall.RuleSet `json:"rules"`
	UpdatedWhen float64          `json:"updatedWhen"`
	UpdatedBy   tre.User         `json:"updatedBy"`
	ETag        string           `json:"_etag,omitempty"`
}

// SetETag records the document's version.
func (m *ManualRules) SetETag(e string) { m.ETag = e }

func (s *Service) enableFirewall(o *FirewallOptions) error {
	if o == nil {
		return nil
	}
	if err := o.Config.Validate(); err != nil {
		return err
	}
	lease := &lock.Lease{Store: s.store, Name: "firewall", Holder: o.Holder, Now: s.now}
	ctx, cancel := context.WithCancel(context.Background())
	s.fw = &firewallService{backend: o.Backend, cfg: o.Config, ctx: ctx, cancel: cancel,
		reconciler: &firewall.Reconciler{Firewall: o.Backend, Lease: lease, Config: o.Config, Now: s.now}}
	return nil
}

// declaresEgress reports whether a resource has egress rules to manage:
// its template declares some, or its bundle reported some.
func declaresEgress(t *tre.Template, r *tre.Resource) bool {
	if t != nil && len(t.Egress) > 0 {
		return true
	}
	_, ok := r.Properties[tre.EgressOutput]
	return ok
}

// egressActive: the resource's rules belong in the firewall: it is enabled
// and its bundle is being installed, is installed, or is being
// uninstalled. A failed install and a deleted resource have none.
func egressActive(r *tre.Resource) bool {
	if !r.IsEnabled {
		return false
	}
	switch r.DeploymentStatus {
	case tre.StatusDeploymentFailed, tre.StatusDeleted:
		return false
	}
	return true
}

// firewallStep builds the firewall step of resource r.
func (s *Service) firewallStep(r *tre.Resource, action string) tre.OperationStep {
	name, _ := r.Properties["display_name"].(string)
	if name == "" {
		name = r.ID
	}
	title := map[string]string{
		tre.ActionInstall: "Open the egress of " + name, tre.ActionUpgrade: "Apply the egress of " + name,
		tre.ActionUninstall: "Close the egress of " + name,
	}[action]
	st := tre.StatusesFor(tre.StepFirewall)
	return tre.OperationStep{
		ID: s.newID(), Kind: tre.StepFirewall, TemplateStepID: tre.StepFirewall, StepTitle: title,
		ResourceID: r.ID, ResourceType: r.ResourceType, ResourceTemplateName: r.TemplateName, ResourceAction: tre.StepFirewall,
		Status: st.Awaiting, Message: "Waiting to update the firewall", UpdatedWhen: s.ts(), SourceTemplateResourceID: r.ID, Attempt: 1,
	}
}

// ruleSetOf computes a resource's declared rules: its template's egress,
// substituted, plus the egress_rules its bundle reported.
// Returns CodeInvalid for rules that cannot be computed from what the
// resource holds; any other error is the store's.
func (s *Service) ruleSetOf(ctx context.Context, r *tre.Resource, t *tre.Template) (firewall.RuleSet, error) {
	var rs firewall.RuleSet
	if len(t.Egress) > 0 {
		src, err := s.pipelineSource(ctx, r)
		if err != nil {
			return rs, err
		}
		withDefaults(src.Resource, t)
		v, err := pipeline.Value(map[string]any(t.Egress), src)
		if err != nil {
			return rs, tre.WrapError(tre.CodeInvalid, err, "the egress of template %s %s: %s", t.Name, t.Version, tre.ErrorMessage(err))
		}
		if err := decodeRuleSet(v, &rs); err != nil {
			return rs, tre.WrapError(tre.CodeInvalid, err, "the egress of template %s %s does not read as rules after substitution (%s): does every {{ resource.… }} it uses have a value?", t.Name, t.Version, jsonProblem(err))
		}
	}
	if out, ok := r.Properties[tre.EgressOutput]; ok {
		if str, isStr := out.(string); isStr {
			var v any
			if err := json.Unmarshal([]byte(str), &v); err != nil {
				return rs, tre.WrapError(tre.CodeInvalid, err, "the bundle's %s output is not JSON", tre.EgressOutput)
			}
			out = v
		}
		var extra firewall.RuleSet
		if err := decodeRuleSet(out, &extra); err != nil {
			return rs, tre.WrapError(tre.CodeInvalid, err, "the bundle's %s output is not a rule set (%s)", tre.EgressOutput, jsonProblem(err))
		}
		rs.ApplicationRuleCollections = append(rs.ApplicationRuleCollections, extra.ApplicationRuleCollections...)
		rs.NetworkRuleCollections = append(rs.NetworkRuleCollections, extra.NetworkRuleCollections...)
	}
	return rs, nil
}

// withDefaults gives the properties a resource was created without their
// template's default, for the egress substitution: the bundle runs with
// those defaults, so its egress is computed with them too. (The stored
// properties stay as given, as in AzureTRE.)
func withDefaults(resource map[string]any, t *tre.Template) {
	props, _ := resource["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		resource["properties"] = props
	}
	schemaProps, _ := t.Schema["properties"].(map[string]any)
	for name, raw := range schemaProps {
		p, _ := raw.(map[string]any)
		if def, ok := p["default"]; ok {
			if _, has := props[name]; !has {
				props[name] = def
			}
		}
	}
}

// jsonProblem says what a decoding error found, in the template's words.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s is a JSON %s where a %s belongs", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "list"
	case "struct", "map":
		return "object"
	case "int32", "int", "int64", "float64":
		return "number"
	}
	return k
}

func decodeRuleSet(v any, rs *firewall.RuleSet) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(rs)
}

// egressOwners reads every owner's rules from the store. Resources whose
// rules are invalid are reported, not included. A read that fails (the
// store, a template) fails the whole call: leaving the resource out would
// delete its rules from the firewall.
func (s *Service) egressOwners(ctx context.Context) ([]firewall.Owned, []OwnerProblem, error) {
	resources, err := tre.QueryAs[tre.Resource](ctx, s.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Ne("deploymentStatus", string(tre.StatusDeleted))}})
	if err != nil {
		return nil, nil, fmt.Errorf("lifecycle: firewall owners: %w", err)
	}
	var owned []firewall.Owned
	var problems []OwnerProblem
	for _, r := range resources {
		if !egressActive(r) {
			continue
		}
		name, _ := r.Properties["display_name"].(string)
		owner := tre.RuleOwner{Kind: tre.RuleOwnerResource, ID: r.ID, Name: name, ResourceType: string(r.ResourceType), ResourcePath: r.ResourcePath}
		t, err := s.templateOf(ctx, r)
		var rs firewall.RuleSet
		if err == nil {
			if !declaresEgress(t, r) {
				continue
			}
			rs, err = s.ruleSetOf(ctx, r, t)
		}
		if tre.IsCode(err, tre.CodeInvalid) || tre.IsCode(err, tre.CodeNotFound) {
			// Its rules are wrong, or it lost its template or parent:
			// nothing a retry changes.
			problems = append(problems, OwnerProblem{Owner: owner, Message: tre.ErrorMessage(err)})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("lifecycle: firewall owners: rules of %s: %w", r.ID, err)
		}
		owned = append(owned, firewall.Owned{Owner: owner, Rules: rs})
	}
	manual, err := s.ManualRuleSets(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range manual {
		owned = append(owned, firewall.Owned{Owner: tre.RuleOwner{Kind: tre.RuleOwnerManual, ID: m.Name, Name: m.Name}, Rules: m.Rules})
	}
	return owned, problems, nil
}

// SyncFirewall makes the firewall match the store now, under the lease,
// and records the result. It returns the owners left out and why.
// Returns CodeUnavailable when the firewall service is off.
func (s *Service) SyncFirewall(ctx context.Context) (*FirewallStatus, error) {
	if s.fw == nil {
		return nil, tre.Errorf(tre.CodeUnavailable, "The firewall service is off on this control plane (TRE_FIREWALL=off)")
	}
	var problems []OwnerProblem
	res, err := s.fw.reconciler.ReconcileFrom(ctx, func(ctx context.Context) ([]tre.RuleCollectionGroup, error) {
		owned, prep, err := s.egressOwners(ctx)
		if err != nil {
			return nil, err
		}
		groups, ownerErrs := firewall.Desired(owned, s.fw.cfg)
		problems = prep
		for _, oe := range ownerErrs {
			problems = append(problems, OwnerProblem{Owner: oe.Owner, Message: tre.ErrorMessage(oe.Err)})
		}
		return groups, nil
	})
	st := &FirewallStatus{ID: firewallStatusID, Kind: "status", Result: res, Problems: problems}
	if st.Problems == nil {
		st.Problems = []OwnerProblem{}
	}
	if _, serr := tre.ReplaceAs(ctx, s.store, tre.FirewallRules, st.ID, "", st); tre.IsCode(serr, tre.CodeNotFound) {
		_, serr = tre.CreateAs(ctx, s.store, tre.FirewallRules, st.ID, st)
		if serr != nil && !tre.IsCode(serr, tre.CodeConflict) {
			s.log.Warn("firewall status not recorded", "error", serr.Error())
		}
	} else if serr != nil {
		s.log.Warn("firewall status not recorded", "error", serr.Error())
	}
	if err != nil {
		s.log.Warn("firewall reconcile failed", "error", err.Error())
		return st, tre.WrapError(tre.CodeUnavailable, err, "The firewall could not be updated: %s", res.Err)
	}
	if len(res.Written)+len(res.Deleted) > 0 || len(problems) > 0 {
		s.log.Info("firewall reconciled", "written", res.Written, "deleted", res.Deleted, "problems", len(problems))
	}
	return st, nil
}

// kickFirewall runs the pending firewall steps soon, in the background;
// calls while it runs make it run once more. The firewall-reconcile timer
// runs them too, so a crash loses nothing.
func (s *Service) kickFirewall() {
	fw := s.fw
	fw.mu.Lock()
	if fw.running {
		fw.again = true
		fw.mu.Unlock()
		return
	}
	fw.running = true
	fw.mu.Unlock()
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		for {
			ctx, cancel := context.WithTimeout(fw.ctx, 15*time.Minute)
			if err := s.RunFirewallSteps(ctx); err != nil {
				s.log.Warn("firewall steps", "error", err.Error())
			}
			cancel()
			fw.mu.Lock()
			if !fw.again {
				fw.running = false
				fw.mu.Unlock()
				return
			}
			fw.again = false
			fw.mu.Unlock()
		}
	}()
}

// WaitFirewall waits for background firewall work (tests).
func (s *Service) WaitFirewall() {
	if s.fw != nil {
		s.fw.wg.Wait()
	}
}

// StopFirewall cancels background firewall work and waits for it (at
// shutdown). A step it interrupts is run again by the firewall-reconcile
// timer of this or another instance.
func (s *Service) StopFirewall() {
	if s.fw != nil {
		s.fw.cancel()
		s.fw.wg.Wait()
	}
}

// RunFirewallSteps runs every firewall step that is due (sent, not ended):
// one reconcile for all of them, then each succeeds, or fails with its
// resource's problem or the firewall's error.
func (s *Service) RunFirewallSteps(ctx context.Context) error {
	if s.fw == nil {
		return nil
	}
	ops, err := tre.QueryAs[tre.Operation](ctx, s.store, tre.Operations, tre.Query{Where: []tre.Cond{
		tre.In("status", tre.InProgressStatuses()...), tre.Ne("pending", true)}})
	if err != nil {
		return fmt.Errorf("lifecycle: firewall steps: %w", err)
	}
	type due struct {
		op   string
		step tre.OperationStep
	}
	var pending []due
	for _, op := range ops {
		i := nextStep(op)
		if i < 0 || op.Steps[i].Kind != tre.StepFirewall || op.Steps[i].DispatchedWhen == 0 || op.Steps[i].Status.Terminal() {
			continue
		}
		pending = append(pending, due{op.ID, op.Steps[i]})
	}
	if len(pending) == 0 {
		return nil
	}
	st := tre.StatusesFor(tre.StepFirewall)
	for _, p := range pending {
		if p.step.Status.Phase() == tre.PhaseAwaiting {
			if _, err := s.ApplyStatus(ctx, tre.StatusUpdate{OperationID: p.op, StepID: p.step.ID, ID: p.step.ResourceID, Attempt: p.step.Attempt,
				Status: st.Running, Message: "Updating the firewall", Agent: "firewall-service"}); err != nil {
				return err
			}
		}
	}
	// Azure Firewall can take minutes to apply a policy: the steps beat
	// while it does, so the watchdog does not take them for stuck.
	stopBeat := make(chan struct{})
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		t := time.NewTicker(s.cfg.HeartbeatLimit / 4)
		defer t.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-t.C:
				for _, p := range pending {
					_, _ = s.ApplyStatus(ctx, tre.StatusUpdate{OperationID: p.op, StepID: p.step.ID, ID: p.step.ResourceID, Attempt: p.step.Attempt,
						Status: st.Running, Message: "Updating the firewall", Agent: "firewall-service"})
				}
			}
		}
	}()
	report, syncErr := s.SyncFirewall(ctx)
	close(stopBeat)
	<-beatDone
	var errs []error
	for _, p := range pending {
		upd := tre.StatusUpdate{OperationID: p.op, StepID: p.step.ID, ID: p.step.ResourceID, Attempt: p.step.Attempt, Agent: "firewall-service"}
		var problem string
		if report != nil {
			for _, pr := range report.Problems {
				if pr.Owner.Kind == tre.RuleOwnerResource && pr.Owner.ID == p.step.ResourceID {
					problem = pr.Message
				}
			}
		}
		switch {
		case problem != "":
			upd.Status, upd.Message = st.Failed, "The egress rules are invalid and were not applied: "+problem
		case syncErr != nil:
			upd.Status, upd.Message = st.Failed, tre.ErrorMessage(syncErr)
		default:
			upd.Status, upd.Message = st.Succeeded, firewallMessage(report.Result)
		}
		if _, err := s.ApplyStatus(ctx, upd); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func firewallMessage(r firewall.Result) string {
	var parts []string
	if len(r.Written) > 0 {
		parts = append(parts, "wrote "+strings.Join(r.Written, ", "))
	}
	if len(r.Deleted) > 0 {
		parts = append(parts, "deleted "+strings.Join(r.Deleted, ", "))
	}
	if len(parts) == 0 {
		return "The firewall already had these rules"
	}
	return "The firewall was updated: " + strings.Join(parts, "; ")
}

// FirewallView is the API's view of the firewall.
type FirewallView struct {
	// Desired are the groups the owners' rules add up to now.
	Desired []tre.RuleCollectionGroup `json:"desired"`
	// Applied are the groups the firewall has (managed and others).
	Applied []tre.RuleCollectionGroup `json:"applied"`
	// Owners is the desired state by owner.
	Owners []firewall.Owned `json:"owners"`
	// Problems are the owners left out, and why.
	Problems []OwnerProblem `json:"problems"`
	// LastReconcile is the last reconcile's result.
	LastReconcile *firewall.Result `json:"lastReconcile"`
	GroupPrefix   string           `json:"groupPrefix"`
}

// Firewall returns the desired and applied state. Returns CodeUnavailable
// when the firewall service is off or the firewall cannot be read.
func (s *Service) Firewall(ctx context.Context) (*FirewallView, error) {
	if s.fw == nil {
		return nil, tre.Errorf(tre.CodeUnavailable, "The firewall service is off on this control plane (TRE_FIREWALL=off)")
	}
	owned, problems, err := s.egressOwners(ctx)
	if err != nil {
		return nil, err
	}
	groups, ownerErrs := firewall.Desired(owned, s.fw.cfg)
	for _, oe := range ownerErrs {
		problems = append(problems, OwnerProblem{Owner: oe.Owner, Message: tre.ErrorMessage(oe.Err)})
	}
	applied, err := s.fw.backend.Groups(ctx)
	if err != nil {
		return nil, tre.WrapError(tre.CodeUnavailable, err, "The firewall cannot be read")
	}
	v := &FirewallView{Desired: groups, Applied: applied, Owners: firewall.ByOwner(groups), Problems: problems, GroupPrefix: s.fw.cfg.GroupPrefix}
	if st, err := tre.GetAs[FirewallStatus](ctx, s.store, tre.FirewallRules, firewallStatusID); err == nil {
		v.LastReconcile = &st.Result
	}
	for _, sl := range []*[]tre.RuleCollectionGroup{&v.Desired, &v.Applied} {
		if *sl == nil {
			*sl = []tre.RuleCollectionGroup{}
		}
	}
	if v.Owners == nil {
		v.Owners = []firewall.Owned{}
	}
	if v.Problems == nil {
		v.Problems = []OwnerProblem{}
	}
	return v, nil
}

var manualName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$`)

// ManualRuleSets lists the admins' rule sets by name.
func (s *Service) ManualRuleSets(ctx context.Context) ([]*ManualRules, error) {
	list, err := tre.QueryAs[ManualRules](ctx, s.store, tre.FirewallRules, tre.Query{Where: []tre.Cond{tre.Eq("kind", "manual")}})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: manual rules: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

// ManualRuleSet returns one admin rule set. Returns CodeNotFound.
func (s *Service) ManualRuleSet(ctx context.Context, name string) (*ManualRules, error) {
	if !manualName.MatchString(name) {
		return nil, tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	m, err := tre.GetAs[ManualRules](ctx, s.store, tre.FirewallRules, manualPrefix+name)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	return m, err
}

// FirewallEnabled reports whether the firewall service is on.
func (s *Service) FirewallEnabled() bool { return s.fw != nil }

// PutManualRules creates or replaces an admin's rule set after validating
// it, and reconciles. Returns CodeInvalid naming the rule at fault,
// CodeUnavailable when the firewall service is off.
func (s *Service) PutManualRules(ctx context.Context, name string, rules firewall.RuleSet, by tre.User) (*ManualRules, error) {
	if s.fw == nil {
		return nil, tre.Errorf(tre.CodeUnavailable, "The firewall service is off on this control plane (TRE_FIREWALL=off)")
	}
	if !manualName.MatchString(name) {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "name", "a rule set name is 1 to 60 letters, digits, '-' or '_', starting with a letter or digit")
	}
	if len(rules.ApplicationRuleCollections)+len(rules.NetworkRuleCollections) == 0 {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "rule_collections",
			"a rule set needs at least one collection in rule_collections or network_rule_collections (DELETE removes a rule set)")
	}
	if err := firewall.Validate(rules); err != nil {
		return nil, err
	}
	m := &ManualRules{ID: manualPrefix + name, Kind: "manual", Name: name, Rules: rules, UpdatedWhen: s.ts(), UpdatedBy: by}
	if _, err := tre.ReplaceAs(ctx, s.store, tre.FirewallRules, m.ID, "", m); tre.IsCode(err, tre.CodeNotFound) {
		if _, err := tre.CreateAs(ctx, s.store, tre.FirewallRules, m.ID, m); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	s.log.Info("manual firewall rules saved", "name", name, "by", by.ID)
	s.kickReconcile()
	return m, nil
}

// DeleteManualRules removes an admin's rule set and reconciles.
// Returns CodeNotFound.
func (s *Service) DeleteManualRules(ctx context.Context, name string, by tre.User) error {
	if s.fw == nil {
		return tre.Errorf(tre.CodeUnavailable, "The firewall service is off on this control plane (TRE_FIREWALL=off)")
	}
	if !manualName.MatchString(name) {
		return tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	err := s.store.Delete(ctx, tre.FirewallRules, manualPrefix+name, "")
	if tre.IsCode(err, tre.CodeNotFound) {
		return tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	if err != nil {
		return err
	}
	s.log.Info("manual firewall rules deleted", "name", name, "by", by.ID)
	s.kickReconcile()
	return nil
}

// kickReconcile reconciles in the background after an admin's change.
func (s *Service) kickReconcile() {
	s.fw.wg.Add(1)
	go func() {
		defer s.fw.wg.Done()
		ctx, cancel := context.WithTimeout(s.fw.ctx, 15*time.Minute)
		defer cancel()
		_, _ = s.SyncFirewall(ctx)
	}()
}
