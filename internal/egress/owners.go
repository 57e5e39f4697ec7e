package egress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/pipeline"
	"github.com/tre-go/tre/internal/tre"
)

// Problem says why an owner's rules are not in the firewall.
type Problem struct {
	Owner   tre.RuleOwner `json:"owner"`
	Message string        `json:"message"`
}

// active reports whether a resource's rules belong in the firewall: it is
// enabled and its bundle is being installed, is installed, or is being
// uninstalled. A failed install and a deleted resource have none.
func active(r *tre.Resource) bool {
	if !r.IsEnabled {
		return false
	}
	switch r.DeploymentStatus {
	case tre.StatusDeploymentFailed, tre.StatusDeleted:
		return false
	}
	return true
}

// owners reads every owner's rules from the store. Resources whose rules
// are invalid are reported, not included. A read that fails (the store, a
// template) fails the whole call: leaving the resource out would delete
// its rules from the firewall.
func (s *Service) owners(ctx context.Context) ([]firewall.Owned, []Problem, error) {
	resources, err := tre.QueryAs[tre.Resource](ctx, s.store, tre.Resources, tre.Query{Where: []tre.Cond{
		tre.Ne("deploymentStatus", string(tre.StatusDeleted))}})
	if err != nil {
		return nil, nil, fmt.Errorf("egress: owners: %w", err)
	}
	var owned []firewall.Owned
	var problems []Problem
	for _, r := range resources {
		if !active(r) {
			continue
		}
		o, ok, err := s.resourceRules(ctx, r)
		if tre.IsCode(err, tre.CodeInvalid) || tre.IsCode(err, tre.CodeNotFound) {
			// Its rules are wrong, or it lost its template or parent:
			// nothing a retry changes.
			problems = append(problems, Problem{Owner: o.Owner, Message: tre.ErrorMessage(err)})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("egress: owners: rules of %s: %w", r.ID, err)
		}
		if ok {
			owned = append(owned, o)
		}
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

// resourceRules computes the rules of an active resource; ok is false for
// a resource that declares none. The built-in firewall record holds the
// admins' rules AzureTRE's clients set on the firewall shared service:
// they count as a manual rule set.
func (s *Service) resourceRules(ctx context.Context, r *tre.Resource) (o firewall.Owned, ok bool, err error) {
	name, _ := r.Properties["display_name"].(string)
	if r.IsBuiltInFirewall() {
		o.Owner = tre.RuleOwner{Kind: tre.RuleOwnerManual, ID: tre.FirewallTemplateName, Name: tre.FirewallTemplateName}
		err = decodeAzureTRERules(r.Properties, &o.Rules, "the firewall shared service's rules")
		return o, err == nil, err
	}
	o.Owner = tre.RuleOwner{Kind: tre.RuleOwnerResource, ID: r.ID, Name: name, ResourceType: string(r.ResourceType), ResourcePath: r.ResourcePath}
	t, err := s.ops.TemplateOf(ctx, r)
	if err != nil || (!tre.DeclaresEgress(t, r) && len(r.PipelineEgress) == 0) {
		return o, false, err
	}
	o.Rules, err = s.ruleSetOf(ctx, r, t)
	if err != nil {
		return o, false, err
	}
	var piped firewall.RuleSet
	if err := decodeAzureTRERules(r.PipelineEgress, &piped, "the rules its pipeline sent to "+tre.FirewallTemplateName); err != nil {
		return o, false, err
	}
	o.Rules.ApplicationRuleCollections = append(o.Rules.ApplicationRuleCollections, piped.ApplicationRuleCollections...)
	o.Rules.NetworkRuleCollections = append(o.Rules.NetworkRuleCollections, piped.NetworkRuleCollections...)
	return o, true, nil
}

// decodeAzureTRERules reads the rule_collections and
// network_rule_collections of AzureTRE's firewall shared service from
// props (other properties are not rules). Returns CodeInvalid naming what.
func decodeAzureTRERules(props map[string]any, rs *firewall.RuleSet, what string) error {
	rules := map[string]any{}
	for _, k := range []string{"rule_collections", "network_rule_collections"} {
		if v, ok := props[k]; ok && v != nil {
			rules[k] = v
		}
	}
	if err := decodeRuleSet(rules, rs); err != nil {
		return tre.WrapError(tre.CodeInvalid, err, "%s do not read as rules (%s)", what, jsonProblem(err))
	}
	return nil
}

// ruleSetOf computes a resource's declared rules: its template's egress,
// substituted, plus the egress_rules its bundle reported.
// Returns CodeInvalid for rules that cannot be computed from what the
// resource holds; any other error is the store's.
func (s *Service) ruleSetOf(ctx context.Context, r *tre.Resource, t *tre.Template) (firewall.RuleSet, error) {
	var rs firewall.RuleSet
	if len(t.Egress) > 0 {
		src, err := s.ops.SubstitutionSource(ctx, r)
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
	out, ok := r.Properties[tre.EgressOutput]
	if !ok {
		return rs, nil
	}
	extra, err := reportedRules(out)
	if err != nil {
		return rs, err
	}
	rs.ApplicationRuleCollections = append(rs.ApplicationRuleCollections, extra.ApplicationRuleCollections...)
	rs.NetworkRuleCollections = append(rs.NetworkRuleCollections, extra.NetworkRuleCollections...)
	return rs, nil
}

// reportedRules reads the egress_rules output of a bundle: a rule set, as
// JSON text or as an object. Returns CodeInvalid.
func reportedRules(out any) (firewall.RuleSet, error) {
	var rs firewall.RuleSet
	if str, isStr := out.(string); isStr {
		var v any
		if err := json.Unmarshal([]byte(str), &v); err != nil {
			return rs, tre.WrapError(tre.CodeInvalid, err, "the bundle's %s output is not JSON", tre.EgressOutput)
		}
		out = v
	}
	if err := decodeRuleSet(out, &rs); err != nil {
		return rs, tre.WrapError(tre.CodeInvalid, err, "the bundle's %s output is not a rule set (%s)", tre.EgressOutput, jsonProblem(err))
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
