package lifecycle

import (
	"context"
	"fmt"

	"github.com/tre-go/tre/internal/pipeline"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// FirewallSignal is how lifecycle tells the firewall service (package
// egress) that it has work: lifecycle records a firewall step as sent in
// the store, then signals; the firewall service runs it, and reports its
// progress and outcome through ApplyStatus. Both methods return at once.
type FirewallSignal interface {
	// StepsDue says a firewall step was marked sent.
	StepsDue()
	// EgressChanged says a bundle reported egress rules (its
	// egress_rules output): they apply once it has run, with no step
	// before it to open them.
	EgressChanged()
}

// firewallStep builds the firewall step of resource r: the control plane
// runs it, not the Resource Processor. An operation of a resource that
// declares egress has one: before the bundle installs or upgrades (it may
// need the egress while it runs) and after it is uninstalled.
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

// pipelineFirewallStep is a step of r's template pipeline that updates
// AzureTRE's firewall shared service: here it is a firewall step of r
// itself. Its rule collections, substituted from r and merged by the
// step's array actions, become r's egress (Resource.PipelineEgress) when
// it is about to run; the firewall service then applies them as any
// declared egress, owned by r and removed with it.
func (s *Service) pipelineFirewallStep(r *tre.Resource, d tre.PipelineStep) tre.OperationStep {
	step := s.firewallStep(r, tre.ActionUpgrade)
	step.TemplateStepID = d.StepID
	if d.StepTitle != "" {
		step.StepTitle = d.StepTitle
	}
	return step
}

// applyPipelineEgress writes the rules a pipeline firewall step asks for
// into its resource's PipelineEgress, once (the write carries the step
// id). Returns CodeInvalid when the step's values cannot be substituted.
func (s *Service) applyPipelineEgress(ctx context.Context, op *tre.Operation, step tre.OperationStep) error {
	for attempt := 0; ; attempt++ {
		source, err := s.getResource(ctx, step.SourceTemplateResourceID)
		if err != nil {
			return err
		}
		if source.LastStepID == step.ID {
			return nil // written before a crash
		}
		def, err := s.pipelineStepOf(ctx, source, op.Action, step.TemplateStepID)
		if err != nil {
			return err
		}
		src, err := s.SubstitutionSource(ctx, source)
		if err != nil {
			return err
		}
		current := schema.DeepCopy(source.PipelineEgress)
		if current == nil {
			current = map[string]any{}
		}
		props, err := pipeline.Apply(def.Properties, src, current)
		if err != nil {
			return tre.WrapError(tre.CodeInvalid, err, "step %s: %s", step.TemplateStepID, tre.ErrorMessage(err))
		}
		for k, v := range props {
			current[k] = v
		}
		source.PipelineEgress, source.LastStepID = current, step.ID
		_, err = tre.ReplaceAs(ctx, s.store, tre.Resources, source.ID, source.ETag, source)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 20 {
			continue
		}
		if err != nil {
			return fmt.Errorf("lifecycle: firewall rules of step %s: %w", step.ID, err)
		}
		return nil
	}
}

// builtInFirewallRefusal is the answer to a change the built-in firewall
// record cannot take.
func builtInFirewallRefusal(what string) error {
	return tre.Errorf(tre.CodeConflict, "The firewall is built into this control plane and cannot be %s: "+
		"it applies every resource's egress; update its rule_collections and network_rule_collections to set admins' rules", what)
}
