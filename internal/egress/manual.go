package egress

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/tre"
)

// ManualRules is an admin's rule set, as stored.
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

var manualName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$`) })

// ManualRuleSets lists the admins' rule sets by name.
func (s *Service) ManualRuleSets(ctx context.Context) ([]*ManualRules, error) {
	list, err := tre.QueryAs[ManualRules](ctx, s.store, tre.FirewallRules, tre.Query{Where: []tre.Cond{tre.Eq("kind", "manual")}})
	if err != nil {
		return nil, fmt.Errorf("egress: manual rules: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

// ManualRuleSet returns one admin rule set. Returns CodeNotFound.
func (s *Service) ManualRuleSet(ctx context.Context, name string) (*ManualRules, error) {
	if !manualName().MatchString(name) {
		return nil, tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	m, err := tre.GetAs[ManualRules](ctx, s.store, tre.FirewallRules, manualPrefix+name)
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	return m, err
}

// PutManualRules creates or replaces an admin's rule set after validating
// it; the firewall is reconciled in the background. Returns CodeInvalid
// naming the rule at fault, CodeUnavailable when the firewall service is
// off.
func (s *Service) PutManualRules(ctx context.Context, name string, rules firewall.RuleSet, by tre.User) (*ManualRules, error) {
	if s.firewall == nil {
		return nil, errOff()
	}
	if !manualName().MatchString(name) {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "name", "a rule set name is 1 to 60 letters, digits, '-' or '_', starting with a letter or digit")
	}
	if strings.EqualFold(name, tre.FirewallTemplateName) {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "name", "%s names the rules of the firewall shared service: PATCH that shared service to change them", name)
	}
	if len(rules.ApplicationRuleCollections)+len(rules.NetworkRuleCollections) == 0 {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "rule_collections",
			"a rule set needs at least one collection in rule_collections or network_rule_collections (DELETE removes a rule set)")
	}
	if err := firewall.Validate(rules); err != nil {
		return nil, err
	}
	m := &ManualRules{ID: manualPrefix + name, Kind: "manual", Name: name, Rules: rules, UpdatedWhen: tre.Timestamp(s.now()), UpdatedBy: by}
	if _, err := tre.ReplaceAs(ctx, s.store, tre.FirewallRules, m.ID, "", m); tre.IsCode(err, tre.CodeNotFound) {
		if _, err := tre.CreateAs(ctx, s.store, tre.FirewallRules, m.ID, m); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "manual firewall rules saved", "name", name, "by", by.ID)
	s.changed()
	return m, nil
}

// DeleteManualRules removes an admin's rule set; the firewall is
// reconciled in the background. Returns CodeNotFound, CodeUnavailable when
// the firewall service is off.
func (s *Service) DeleteManualRules(ctx context.Context, name string, by tre.User) error {
	if s.firewall == nil {
		return errOff()
	}
	if !manualName().MatchString(name) {
		return tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	err := s.store.Delete(ctx, tre.FirewallRules, manualPrefix+name, "")
	if tre.IsCode(err, tre.CodeNotFound) {
		return tre.Errorf(tre.CodeNotFound, "No manual rule set %q", name)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "manual firewall rules deleted", "name", name, "by", by.ID)
	s.changed()
	return nil
}

// changed has Run reconcile soon.
func (s *Service) changed() {
	if s.signal != nil {
		s.signal.EgressChanged()
	}
}
