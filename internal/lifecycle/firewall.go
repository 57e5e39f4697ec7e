package lifecycle

import "github.com/tre-go/tre/internal/tre"

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
