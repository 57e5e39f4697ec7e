package firewall

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tre-go/tre/internal/tre"
)

// Config places TRE's rules in the firewall policy. Zero fields take the
// defaults of DefaultConfig.
type Config struct {
	// GroupPrefix starts the name of every group the firewall service
	// manages; groups without it (core infrastructure, an admin's own) are
	// never touched. Default "rcg-tre-".
	GroupPrefix string
	// Priorities of the four groups. The manual (admin) groups come before
	// TRE's so that an admin's rules take precedence (AzureTRE #882, #2920).
	// Azure evaluates every network rule before any application rule, so
	// the order that matters is within each kind. Defaults 300, 310, 400,
	// 410, what infra/ passes: clear of 100 (the core's rcg-core) and of
	// 500 to 599 (AzureTRE's own groups, among them 510, the firewall
	// shared service's rcg-dynamic-network).
	ManualNetworkPriority     int32
	ManualApplicationPriority int32
	TRENetworkPriority        int32
	TREApplicationPriority    int32
	// The collections of a group get priorities base, base+step, … in their
	// deterministic order. Defaults 1000 and 10.
	CollectionPriorityBase int32
	CollectionPriorityStep int32
	// CoreIPGroups is the ARM id of the TRE's core resource group
	// (/subscriptions/<id>/resourceGroups/<name>): the IP groups that
	// rules name in source_ip_groups_in_core are in it (AzureTRE's
	// rg-<tre_id>). Empty: such rules are refused.
	CoreIPGroups string
}

// DefaultConfig returns the default placement.
func DefaultConfig() Config {
	return Config{
		GroupPrefix:               "rcg-tre-",
		ManualNetworkPriority:     300,
		ManualApplicationPriority: 310,
		TRENetworkPriority:        400,
		TREApplicationPriority:    410,
		CollectionPriorityBase:    1000,
		CollectionPriorityStep:    10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.GroupPrefix = cmp.Or(c.GroupPrefix, d.GroupPrefix)
	c.ManualNetworkPriority = cmp.Or(c.ManualNetworkPriority, d.ManualNetworkPriority)
	c.ManualApplicationPriority = cmp.Or(c.ManualApplicationPriority, d.ManualApplicationPriority)
	c.TRENetworkPriority = cmp.Or(c.TRENetworkPriority, d.TRENetworkPriority)
	c.TREApplicationPriority = cmp.Or(c.TREApplicationPriority, d.TREApplicationPriority)
	c.CollectionPriorityBase = cmp.Or(c.CollectionPriorityBase, d.CollectionPriorityBase)
	c.CollectionPriorityStep = cmp.Or(c.CollectionPriorityStep, d.CollectionPriorityStep)
	return c
}

// RuleKind is the kind of rules a group holds.
type RuleKind string

// Rule kinds.
const (
	KindNetwork     RuleKind = "network"
	KindApplication RuleKind = "application"
)

var groupPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`) })

// Validate reports every problem of c (after defaults) at once.
// Returns CodeInvalid.
func (c Config) Validate() error {
	c = c.withDefaults()
	var v validator
	longest := c.GroupName(tre.RuleOwnerManual, KindApplication)
	switch {
	case !groupPrefix().MatchString(c.GroupPrefix):
		v.add("GroupPrefix", "%q must start with a letter or digit and contain only letters, digits, '_', '.' and '-'", c.GroupPrefix)
	case len(longest) > tre.MaxRuleNameLength:
		v.add("GroupPrefix", "%q is too long: group name %q exceeds %d characters", c.GroupPrefix, longest, tre.MaxRuleNameLength)
	}
	prios := []struct {
		name string
		p    int32
	}{
		{"ManualNetworkPriority", c.ManualNetworkPriority},
		{"ManualApplicationPriority", c.ManualApplicationPriority},
		{"TRENetworkPriority", c.TRENetworkPriority},
		{"TREApplicationPriority", c.TREApplicationPriority},
	}
	seen := map[int32]string{}
	for _, p := range prios {
		if p.p < tre.MinRulePriority || p.p > tre.MaxRulePriority {
			v.add(p.name, "%d is outside %d to %d", p.p, tre.MinRulePriority, tre.MaxRulePriority)
		}
		if other, ok := seen[p.p]; ok {
			v.add(p.name, "%d is also %s: every group needs its own priority", p.p, other)
		}
		seen[p.p] = p.name
	}
	if c.ManualNetworkPriority >= c.TRENetworkPriority {
		v.add("ManualNetworkPriority", "%d must be below TRENetworkPriority %d so that admins' rules take precedence", c.ManualNetworkPriority, c.TRENetworkPriority)
	}
	if c.ManualApplicationPriority >= c.TREApplicationPriority {
		v.add("ManualApplicationPriority", "%d must be below TREApplicationPriority %d so that admins' rules take precedence", c.ManualApplicationPriority, c.TREApplicationPriority)
	}
	if c.CollectionPriorityBase < tre.MinRulePriority || c.CollectionPriorityBase > tre.MaxRulePriority {
		v.add("CollectionPriorityBase", "%d is outside %d to %d", c.CollectionPriorityBase, tre.MinRulePriority, tre.MaxRulePriority)
	}
	if c.CollectionPriorityStep < 1 {
		v.add("CollectionPriorityStep", "%d must be at least 1", c.CollectionPriorityStep)
	}
	return tre.InvalidFields("invalid firewall configuration", v.problems)
}

// GroupName returns the name of the group that holds an owner kind's rules
// of one kind (with defaults applied): "rcg-tre-network",
// "rcg-tre-manual-application", ….
func (c Config) GroupName(owner tre.RuleOwnerKind, kind RuleKind) string {
	c = c.withDefaults()
	if owner == tre.RuleOwnerManual {
		return c.GroupPrefix + "manual-" + string(kind)
	}
	return c.GroupPrefix + string(kind)
}

// GroupPriority returns the priority of the group GroupName names.
func (c Config) GroupPriority(owner tre.RuleOwnerKind, kind RuleKind) int32 {
	c = c.withDefaults()
	switch {
	case owner == tre.RuleOwnerManual && kind == KindNetwork:
		return c.ManualNetworkPriority
	case owner == tre.RuleOwnerManual:
		return c.ManualApplicationPriority
	case kind == KindNetwork:
		return c.TRENetworkPriority
	}
	return c.TREApplicationPriority
}

// Owns reports whether the firewall service manages the group named name:
// it starts with the prefix, compared without regard to case as Azure
// compares names.
func (c Config) Owns(name string) bool {
	c = c.withDefaults()
	return len(name) >= len(c.GroupPrefix) && strings.EqualFold(name[:len(c.GroupPrefix)], c.GroupPrefix)
}

// OwnerError says why an owner's rules were left out of the desired state.
// Err is a *tre.Error: CodeInvalid for rules or an owner that fail
// validation (with Fields), CodeConflict for a clash with another owner or
// a full group.
type OwnerError struct {
	Owner tre.RuleOwner
	Err   error
}

// Error names the owner and the cause.
func (e OwnerError) Error() string { return "firewall: " + e.Owner.String() + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e OwnerError) Unwrap() error { return e.Err }

// Desired computes the rule collection groups that the owners' declarations
// add up to. It is pure and deterministic: the same owners in any order give
// the same groups, with the same names and priorities.
//
// An owner whose declaration is invalid, whose collection names clash with
// another owner's, or that no longer fits in a group, is left out whole and
// reported; every other owner is unaffected (AzureTRE #3448). Owners are
// considered in (kind, id) order, so when two clash the later one is left
// out. An owner listed twice with identical rules counts once; with
// different rules, both copies are left out.
//
// The result holds only groups with collections, in priority order: a group
// with nothing in it is not desired, so a reconcile deletes it rather than
// writing it empty (Azure would accept an empty group, but it would count
// against the policy's group limit and be a rule-less leftover, #4233).
// Each collection records its Owner and OwnerCollection (see ByOwner).
//
// If cfg is invalid, no group is returned and every owner is reported with
// the configuration error; Reconciler refuses to run with such a config.
func Desired(owned []Owned, cfg Config) ([]tre.RuleCollectionGroup, []OwnerError) {
	cfg = cfg.withDefaults()
	owners, errs := uniqueOwners(owned)
	if err := cfg.Validate(); err != nil {
		for _, o := range owners {
			errs = append(errs, OwnerError{Owner: o.Owner, Err: err})
		}
		sortOwnerErrors(errs)
		return nil, errs
	}

	b := builder{cfg: cfg, groups: map[groupKey][]tre.RuleCollection{}, taken: map[groupKey]map[string]tre.RuleOwner{}}
	for _, o := range owners {
		o, err := resolveCoreIPGroups(o, cfg.CoreIPGroups)
		if err != nil {
			errs = append(errs, OwnerError{Owner: o.Owner, Err: err})
			continue
		}
		if err := checkOwner(o); err != nil {
			errs = append(errs, OwnerError{Owner: o.Owner, Err: err})
			continue
		}
		if err := b.add(o); err != nil {
			errs = append(errs, OwnerError{Owner: o.Owner, Err: err})
		}
	}

	var out []tre.RuleCollectionGroup
	for k, cs := range b.groups {
		slices.SortFunc(cs, func(a, b tre.RuleCollection) int {
			return cmp.Or(cmp.Compare(a.Owner.ID, b.Owner.ID), cmp.Compare(a.OwnerCollection, b.OwnerCollection))
		})
		for i := range cs {
			cs[i].Priority = cfg.CollectionPriorityBase + int32(i)*cfg.CollectionPriorityStep
		}
		out = append(out, tre.RuleCollectionGroup{
			Name:        cfg.GroupName(k.owner, k.kind),
			Priority:    cfg.GroupPriority(k.owner, k.kind),
			Collections: cs,
		})
	}
	slices.SortFunc(out, func(a, b tre.RuleCollectionGroup) int { return cmp.Compare(a.Priority, b.Priority) })
	sortOwnerErrors(errs)
	return out, errs
}

type groupKey struct {
	owner tre.RuleOwnerKind
	kind  RuleKind
}

type placed struct {
	key groupKey
	c   tre.RuleCollection
}

// builder accumulates the owners' collections group by group.
type builder struct {
	cfg    Config
	groups map[groupKey][]tre.RuleCollection
	taken  map[groupKey]map[string]tre.RuleOwner // lower-case collection name → owner
}

// add places all of a valid owner's collections, or none: an owner with
// half its rules in place is harder to reason about than one reported as
// left out.
func (b *builder) add(o Owned) error {
	var ps []placed
	rules := o.Rules.Clone()
	for _, c := range rules.ApplicationRuleCollections {
		if len(c.Rules) > 0 {
			ps = append(ps, placed{groupKey{o.Owner.Kind, KindApplication}, tre.RuleCollection{
				Name: CollectionName(o.Owner.ID, c.Name), Action: tre.RuleAllow, ApplicationRules: c.Rules,
				Owner: o.Owner, OwnerCollection: c.Name,
			}})
		}
	}
	for _, c := range rules.NetworkRuleCollections {
		if len(c.Rules) > 0 {
			ps = append(ps, placed{groupKey{o.Owner.Kind, KindNetwork}, tre.RuleCollection{
				Name: CollectionName(o.Owner.ID, c.Name), Action: tre.RuleAllow, NetworkRules: c.Rules,
				Owner: o.Owner, OwnerCollection: c.Name,
			}})
		}
	}
	mine := map[groupKey]map[string]bool{}
	for _, p := range ps {
		name := strings.ToLower(p.c.Name)
		group := b.cfg.GroupName(p.key.owner, p.key.kind)
		if other, ok := b.taken[p.key][name]; ok {
			return tre.Errorf(tre.CodeConflict, "collection %q gets the name %q in group %s, already used by %s",
				p.c.OwnerCollection, p.c.Name, group, other)
		}
		if mine[p.key][name] {
			return tre.Errorf(tre.CodeConflict, "collection %q gets the name %q twice in group %s",
				p.c.OwnerCollection, p.c.Name, group)
		}
		if mine[p.key] == nil {
			mine[p.key] = map[string]bool{}
		}
		mine[p.key][name] = true
	}
	capacity := int((tre.MaxRulePriority-b.cfg.CollectionPriorityBase)/b.cfg.CollectionPriorityStep) + 1
	for k, names := range mine {
		if len(b.groups[k])+len(names) > capacity {
			return tre.Errorf(tre.CodeConflict, "group %s is full: %d collections fit with priorities from %d in steps of %d",
				b.cfg.GroupName(k.owner, k.kind), capacity, b.cfg.CollectionPriorityBase, b.cfg.CollectionPriorityStep)
		}
	}
	for _, p := range ps {
		if b.taken[p.key] == nil {
			b.taken[p.key] = map[string]tre.RuleOwner{}
		}
		b.taken[p.key][strings.ToLower(p.c.Name)] = o.Owner
		b.groups[p.key] = append(b.groups[p.key], p.c)
	}
	return nil
}

// uniqueOwners sorts a copy of owned by (kind, id), keeps one of identical
// duplicates and reports owners listed twice with different rules.
func uniqueOwners(owned []Owned) ([]Owned, []OwnerError) {
	sorted := slices.Clone(owned)
	slices.SortStableFunc(sorted, func(a, b Owned) int {
		return cmp.Or(cmp.Compare(a.Owner.Kind, b.Owner.Kind), cmp.Compare(a.Owner.ID, b.Owner.ID))
	})
	var out []Owned
	var errs []OwnerError
	for i := 0; i < len(sorted); {
		j := i + 1
		same := true
		for ; j < len(sorted) && sorted[j].Owner.Kind == sorted[i].Owner.Kind && sorted[j].Owner.ID == sorted[i].Owner.ID; j++ {
			same = same && reflect.DeepEqual(sorted[i], sorted[j])
		}
		if same {
			out = append(out, sorted[i])
		} else {
			// Only kind and id: the copies' labels may differ too, and the
			// report must not depend on the input's order.
			errs = append(errs, OwnerError{Owner: tre.RuleOwner{Kind: sorted[i].Owner.Kind, ID: sorted[i].Owner.ID},
				Err: tre.Errorf(tre.CodeConflict, "declared %d times with different rules", j-i)})
		}
		i = j
	}
	return out, errs
}

func checkOwner(o Owned) error {
	var v validator
	if !o.Owner.Kind.Valid() {
		v.add("owner.kind", "%q must be %s or %s", o.Owner.Kind, tre.RuleOwnerResource, tre.RuleOwnerManual)
	}
	if o.Owner.ID == "" {
		v.add("owner.id", "is empty")
	}
	if err := tre.InvalidFields("invalid owner", v.problems); err != nil {
		return err
	}
	return Validate(o.Rules)
}

func sortOwnerErrors(errs []OwnerError) {
	slices.SortStableFunc(errs, func(a, b OwnerError) int {
		return cmp.Or(cmp.Compare(a.Owner.Kind, b.Owner.Kind), cmp.Compare(a.Owner.ID, b.Owner.ID))
	})
}

var plainOwnerID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`) })

// CollectionName derives the Azure name of an owner's collection, unique
// across owners within a group: "<owner id>.<collection name>" when that is
// unambiguous (the owner id has no '.') and within Azure's 80 characters;
// otherwise a readable, sanitised and truncated form of it followed by '.'
// and 16 hex digits of a SHA-256 of both parts. AzureTRE's own convention
// puts the resource id in the collection name too (nrc_svc_<id>_gitea), so
// resource-owned names usually take the hashed form. Desired still checks
// for clashes, because a declaration could be crafted to match another
// owner's derived name.
func CollectionName(ownerID, collection string) string {
	plain := ownerID + "." + collection
	if plainOwnerID().MatchString(ownerID) && tre.CheckRuleName(collection, 1) == "" && len(plain) <= tre.MaxRuleNameLength {
		return plain
	}
	sum := sha256.Sum256([]byte(ownerID + "\x00" + collection))
	suffix := "." + hex.EncodeToString(sum[:8])
	b := []byte(plain)
	for i, ch := range b {
		if !alphanumeric(ch) && ch != '_' && ch != '.' && ch != '-' {
			b[i] = '-'
		}
	}
	if !alphanumeric(b[0]) {
		b[0] = 'x'
	}
	if max := tre.MaxRuleNameLength - len(suffix); len(b) > max {
		b = b[:max]
	}
	return string(b) + suffix
}

func alphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ByOwner inverts Desired: it regroups the collections of groups by the
// owner recorded on them into each owner's rule set, with the collection
// names the owner declared, in (kind, id) order. Collections without an
// owner (read from Azure, which does not keep one) are left out.
func ByOwner(groups []tre.RuleCollectionGroup) []Owned {
	byOwner := map[tre.RuleOwner]*RuleSet{}
	for _, g := range groups {
		for _, c := range g.Collections {
			if c.Owner.ID == "" {
				continue
			}
			rs := byOwner[c.Owner]
			if rs == nil {
				rs = &RuleSet{}
				byOwner[c.Owner] = rs
			}
			if len(c.ApplicationRules) > 0 {
				rs.ApplicationRuleCollections = append(rs.ApplicationRuleCollections, ApplicationRuleCollection{
					Name: c.OwnerCollection, Rules: tre.CloneApplicationRules(c.ApplicationRules),
				})
			}
			if len(c.NetworkRules) > 0 {
				rs.NetworkRuleCollections = append(rs.NetworkRuleCollections, NetworkRuleCollection{
					Name: c.OwnerCollection, Rules: tre.CloneNetworkRules(c.NetworkRules),
				})
			}
		}
	}
	out := make([]Owned, 0, len(byOwner))
	for o, rs := range byOwner {
		slices.SortFunc(rs.ApplicationRuleCollections, func(a, b ApplicationRuleCollection) int { return cmp.Compare(a.Name, b.Name) })
		slices.SortFunc(rs.NetworkRuleCollections, func(a, b NetworkRuleCollection) int { return cmp.Compare(a.Name, b.Name) })
		out = append(out, Owned{Owner: o, Rules: *rs})
	}
	slices.SortFunc(out, func(a, b Owned) int {
		return cmp.Or(cmp.Compare(a.Owner.Kind, b.Owner.Kind), cmp.Compare(a.Owner.ID, b.Owner.ID))
	})
	return out
}

// resolveCoreIPGroups turns the IP group names of source_ip_groups_in_core
// into ids in the core resource group (appended to source_ip_group_ids),
// on a copy of the owner's rules. Returns CodeInvalid when rules name core
// IP groups and the core resource group is not known.
func resolveCoreIPGroups(o Owned, coreGroup string) (Owned, error) {
	o.Rules = o.Rules.Clone()
	var missing []string
	resolve := func(field string, names []string, ids *[]string) {
		for _, n := range names {
			if coreGroup == "" || !ipGroupName().MatchString(n) {
				missing = append(missing, field+" "+strconv.Quote(n))
				continue
			}
			*ids = append(*ids, coreGroup+"/providers/Microsoft.Network/ipGroups/"+n)
		}
	}
	for i, c := range o.Rules.ApplicationRuleCollections {
		for j := range c.Rules {
			r := &o.Rules.ApplicationRuleCollections[i].Rules[j]
			resolve(c.Name+"/"+r.Name, r.SourceIPGroupsInCore, &r.SourceIPGroupIDs)
			r.SourceIPGroupsInCore = nil
		}
	}
	for i, c := range o.Rules.NetworkRuleCollections {
		for j := range c.Rules {
			r := &o.Rules.NetworkRuleCollections[i].Rules[j]
			resolve(c.Name+"/"+r.Name, r.SourceIPGroupsInCore, &r.SourceIPGroupIDs)
			r.SourceIPGroupsInCore = nil
		}
	}
	if len(missing) > 0 {
		why := "is not an IP group name"
		if coreGroup == "" {
			why = "names an IP group of the core resource group, which this firewall service does not know"
		}
		return o, tre.Errorf(tre.CodeInvalid, "source_ip_groups_in_core of %s %s", strings.Join(missing, ", "), why)
	}
	return o, nil
}

// ipGroupName is what Azure accepts as an IP group's name.
var ipGroupName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,78}[A-Za-z0-9_]?$`) })
