package egress

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// Templates registers and finds templates; *registry.Registry implements
// it.
type Templates interface {
	Register(ctx context.Context, k registry.Kind, reg registry.Registration, by tre.User) (*tre.Template, error)
	Current(ctx context.Context, k registry.Kind, name string) (*tre.Template, error)
}

// BuiltInTemplateVersion is the version of the firewall template this
// control plane registers when none is: below AzureTRE's own (1.x), which
// an admin who runs AzureTRE's registration script makes current.
const BuiltInTemplateVersion = "0.1.0"

// FirewallServiceID is the id of the built-in firewall record of a TRE:
// derived from the TRE's id, so every handler instance agrees on it.
func FirewallServiceID(treID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:firewall-shared-service:"+treID)).String()
}

// EnsureFirewallService makes the firewall visible where AzureTRE's clients
// look for it: a shared service named tre-shared-service-firewall, which is
// a record of this service, never a bundle. Its rule_collections and
// network_rule_collections are admins' rules (a manual rule set); a change
// to them is an operation with one firewall step. It registers a firewall
// template of its own when no version of that name is registered, and
// creates the record once (its id is derived from treID). Off, it does
// nothing.
func (s *Service) EnsureFirewallService(ctx context.Context, templates Templates, treID string) error {
	if s.firewall == nil {
		return nil
	}
	id := FirewallServiceID(treID)
	if _, err := s.store.Get(ctx, tre.Resources, id); err == nil {
		return nil // every start after the first: one read
	}
	k := registry.Kind{Type: tre.TypeSharedService}
	t, err := templates.Current(ctx, k, tre.FirewallTemplateName)
	if tre.IsCode(err, tre.CodeNotFound) {
		t, err = templates.Register(ctx, k, builtInTemplate(), controlPlane)
		if tre.IsCode(err, tre.CodeConflict) { // another instance got there first
			t, err = templates.Current(ctx, k, tre.FirewallTemplateName)
		}
	}
	if err != nil {
		return fmt.Errorf("egress: firewall template: %w", err)
	}
	r := &tre.Resource{
		ID: id, TemplateName: tre.FirewallTemplateName, TemplateVersion: t.Version, IsEnabled: true,
		ResourceType: tre.TypeSharedService, DeploymentStatus: tre.StatusDeployed,
		ResourcePath: tre.ResourcePath(tre.TypeSharedService, "", "", id), User: controlPlane,
		Properties: map[string]any{
			"display_name": "Firewall",
			"description": "The firewall service of the control plane: it keeps the firewall equal to the egress every resource " +
				"declares, and to admins' rules (the rule_collections and network_rule_collections of this shared service).",
			"rule_collections": []any{}, "network_rule_collections": []any{},
			"tre_id": treID, "shared_service_id": id[len(id)-4:],
		},
	}
	if _, err := tre.CreateAs(ctx, s.store, tre.Resources, id, r); err != nil && !tre.IsCode(err, tre.CodeConflict) {
		return fmt.Errorf("egress: firewall shared service: %w", err)
	}
	return nil
}

// controlPlane is who the built-in records are by.
var controlPlane = tre.User{ID: "control-plane", Name: "the control plane"}

// builtInTemplate is the firewall template registered when no version of
// AzureTRE's is: its two rule properties, in AzureTRE's shape (checked by
// the firewall service when applied).
func builtInTemplate() registry.Registration {
	collections := func(title string) map[string]any {
		return map[string]any{"type": "array", "title": title, "updateable": true, "default": []any{},
			"description": "Admins' " + title + " in AzureTRE's shape, evaluated before the resources' rules",
			"items":       map[string]any{"type": "object"}}
	}
	return registry.Registration{
		Name: tre.FirewallTemplateName, Version: BuiltInTemplateVersion, Current: true,
		JSONSchema: map[string]any{
			"title": "Firewall", "type": "object", "required": []any{},
			"description": "The firewall is a service of the control plane, not a bundle: this record shows it where " +
				"AzureTRE's clients look for it, and takes admins' rules.",
			"properties": map[string]any{
				"rule_collections":         collections("application rule collections"),
				"network_rule_collections": collections("network rule collections"),
			},
		},
	}
}
