package firewall

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tre-go/tre/internal/tre"
)

// MaxApplicationPort is the highest port Azure accepts for an application
// rule protocol (armnetwork: "cannot be greater than 64000").
const MaxApplicationPort = 64000

// Enumerations from AzureTRE's firewall template schema.
var (
	applicationProtocols = []string{"Http", "Https", "Mssql"}
	networkProtocols     = []string{"Any", "ICMP", "TCP", "UDP"}
	fqdnTags             = []string{
		"AppServiceEnvironment", "AzureBackup", "AzureKubernetesService", "HDInsight",
		"MicrosoftActiveProtectionService", "WindowsDiagnostics", "WindowsUpdate",
		"WindowsVirtualDesktop",
	}
	collectionActions = []string{"", "Allow", "Deny"}
)

var (
	port       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[1-9][0-9]{0,4}$`) })
	portRange  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([1-9][0-9]{0,4})-([1-9][0-9]{0,4})$`) })
	serviceTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*$`) })
	ipGroupID  = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/ipGroups/[^/]+$`)
	})
	dnsLabel = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`) })
)

// Validate checks a rule set the way Azure Firewall would, and stricter
// where a mistake would otherwise reach Azure and fail the whole rule
// collection group for every owner (AzureTRE #3448: one empty FQDN broke
// the firewall for everyone). It reports every problem at once, each naming
// the collection and rule, as a *tre.Error with CodeInvalid and Fields.
func Validate(rs RuleSet) error {
	var v validator
	v.ruleSet(rs)
	return tre.InvalidFields("invalid firewall rules", v.problems)
}

type validator struct {
	problems []tre.FieldError
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, tre.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) ruleSet(rs RuleSet) {
	seen := map[string]int{}
	for i, c := range rs.ApplicationRuleCollections {
		field := fmt.Sprintf("rule_collections[%d] %q", i, c.Name)
		v.collectionName(field, c.Name, "rule_collections", seen, i)
		v.action(field, c.Action)
		rules := map[string]int{}
		for j, r := range c.Rules {
			v.applicationRule(fmt.Sprintf("%s.rules[%d] %q", field, j, r.Name), r, rules, j)
		}
	}
	seen = map[string]int{}
	for i, c := range rs.NetworkRuleCollections {
		field := fmt.Sprintf("network_rule_collections[%d] %q", i, c.Name)
		v.collectionName(field, c.Name, "network_rule_collections", seen, i)
		v.action(field, c.Action)
		rules := map[string]int{}
		for j, r := range c.Rules {
			v.networkRule(fmt.Sprintf("%s.rules[%d] %q", field, j, r.Name), r, rules, j)
		}
	}
}

// collectionName checks a collection's name and that no earlier collection
// of the same kind has it: Azure compares names without regard to case.
func (v *validator) collectionName(field, name, list string, seen map[string]int, i int) {
	if !v.name(field, name, 1) {
		return
	}
	key := strings.ToLower(name)
	if j, ok := seen[key]; ok {
		v.add(field, "name %q is also used by %s[%d]", name, list, j)
		return
	}
	seen[key] = i
}

// ruleName checks a rule's name. Rules are not ARM resources: Azure and
// AzureTRE's schema (network rules: ^.{5,80}$) take any printable text,
// spaces included, within the length bounds.
func (v *validator) ruleName(field, name string, minLen int, seen map[string]int, j int) {
	switch n := utf8.RuneCountInString(name); {
	case name == "":
		v.add(field, "name is empty")
		return
	case n < minLen || n > tre.MaxRuleNameLength:
		v.add(field, "name %q must have %d to %d characters", name, minLen, tre.MaxRuleNameLength)
		return
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		v.add(field, "name %q has a character that is not printable", name)
		return
	}
	key := strings.ToLower(name)
	if k, ok := seen[key]; ok {
		v.add(field, "name %q is also used by rules[%d]", name, k)
		return
	}
	seen[key] = j
}

func (v *validator) name(field, name string, minLen int) bool {
	if msg := tre.CheckRuleName(name, minLen); msg != "" {
		v.add(field, "%s", msg)
		return false
	}
	return true
}

func (v *validator) action(field, action string) {
	if !slices.Contains(collectionActions, action) {
		v.add(field, "action %q must be Allow or Deny (it is ignored: TRE rules always allow)", action)
	}
}

func (v *validator) applicationRule(field string, r tre.ApplicationRule, seen map[string]int, j int) {
	v.ruleName(field, r.Name, 1, seen, j)
	if len(r.Protocols) == 0 {
		v.add(field, "protocols is empty")
	}
	for k, p := range r.Protocols {
		if !slices.Contains(applicationProtocols, p.Type) {
			v.add(field, "protocols[%d].type %q must be one of %s", k, p.Type, strings.Join(applicationProtocols, ", "))
		}
		if n, err := strconv.Atoi(p.Port); err != nil || !port().MatchString(p.Port) || n > MaxApplicationPort {
			v.add(field, "protocols[%d].port %q is not a port from 1 to %d", k, p.Port, MaxApplicationPort)
		}
	}
	switch {
	case len(r.TargetFQDNs) == 0 && len(r.FQDNTags) == 0:
		v.add(field, "target_fqdns or fqdn_tags is required")
	case len(r.TargetFQDNs) > 0 && len(r.FQDNTags) > 0:
		// Azure takes one destination type per application rule (the
		// portal offers one, the classic API refuses both).
		v.add(field, "target_fqdns and fqdn_tags cannot be combined in one rule: use two rules")
	}
	for k, f := range r.TargetFQDNs {
		if msg := checkFQDN(f, true); msg != "" {
			v.add(field, "target_fqdns[%d] %q %s", k, f, msg)
		}
	}
	for k, tag := range r.FQDNTags {
		if !slices.Contains(fqdnTags, tag) {
			v.add(field, "fqdn_tags[%d] %q must be one of %s", k, tag, strings.Join(fqdnTags, ", "))
		}
	}
	v.sources(field, r.SourceAddresses, r.SourceIPGroupIDs)
}

func (v *validator) networkRule(field string, r tre.NetworkRule, seen map[string]int, j int) {
	// AzureTRE's schema: network rule names match ^.{5,80}$.
	v.ruleName(field, r.Name, 5, seen, j)
	v.sources(field, r.SourceAddresses, r.SourceIPGroupIDs)
	if len(r.DestinationAddresses) == 0 && len(r.DestinationIPGroupIDs) == 0 && len(r.DestinationFQDNs) == 0 {
		v.add(field, "destination_addresses, destination_ip_group_ids or destination_fqdns is required")
	}
	for k, a := range r.DestinationAddresses {
		if !isAddress(a) && !serviceTag().MatchString(a) {
			v.add(field, "destination_addresses[%d] %q is not an IP address, CIDR, IP range, service tag or *", k, a)
		}
	}
	v.ipGroups(field, "destination_ip_group_ids", r.DestinationIPGroupIDs)
	for k, f := range r.DestinationFQDNs {
		// Network rules resolve FQDNs through the firewall's DNS proxy and
		// take no wildcards.
		if msg := checkFQDN(f, false); msg != "" {
			v.add(field, "destination_fqdns[%d] %q %s", k, f, msg)
		}
	}
	if len(r.DestinationPorts) == 0 {
		v.add(field, "destination_ports is empty")
	}
	for k, p := range r.DestinationPorts {
		if !isPortOrRange(p) {
			v.add(field, "destination_ports[%d] %q is not a port or range", k, p)
		}
	}
	if len(r.Protocols) == 0 {
		v.add(field, "protocols is empty")
	}
	for k, p := range r.Protocols {
		if !slices.Contains(networkProtocols, p) {
			v.add(field, "protocols[%d] %q must be one of %s", k, p, strings.Join(networkProtocols, ", "))
		}
	}
}

func (v *validator) sources(field string, addresses, ipGroups []string) {
	if len(addresses) == 0 && len(ipGroups) == 0 {
		v.add(field, "source_addresses or source_ip_group_ids is required")
	}
	for k, a := range addresses {
		if !isAddress(a) {
			v.add(field, "source_addresses[%d] %q is not an IP address, CIDR, IP range or *", k, a)
		}
	}
	v.ipGroups(field, "source_ip_group_ids", ipGroups)
}

func (v *validator) ipGroups(field, list string, ids []string) {
	for k, id := range ids {
		if !ipGroupID().MatchString(id) {
			v.add(field, "%s[%d] %q is not an IP group resource id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/ipGroups/…)", list, k, id)
		}
	}
}

// isAddress reports whether s is "*", an IPv4 or IPv6 address, a CIDR
// prefix, or an ordered range of two addresses of one family
// ("10.0.0.1-10.0.0.9").
func isAddress(s string) bool {
	if s == "*" {
		return true
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	a, err1 := netip.ParseAddr(from)
	b, err2 := netip.ParseAddr(to)
	return err1 == nil && err2 == nil && a.Is4() == b.Is4() && a.Compare(b) <= 0
}

// isPortOrRange reports whether s is "*", a port from 1 to 65535, or a
// range of two such ports with the first below the second.
func isPortOrRange(s string) bool {
	if s == "*" {
		return true
	}
	if port().MatchString(s) {
		n, _ := strconv.Atoi(s)
		return n <= 65535
	}
	m := portRange().FindStringSubmatch(s)
	if m == nil {
		return false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return a <= 65535 && b <= 65535 && a < b
}

// checkFQDN returns what is wrong with f as a fully qualified domain name,
// or "". With wildcard, a leading "*." is allowed.
func checkFQDN(f string, wildcard bool) string {
	if f == "" {
		return "is empty"
	}
	if strings.Contains(f, "://") {
		return "is not an FQDN: remove the scheme"
	}
	if strings.ContainsAny(f, "/?#") {
		return "is not an FQDN: remove the path"
	}
	if strings.Contains(f, ":") {
		if _, err := netip.ParseAddr(f); err == nil {
			return "is an IP address, not an FQDN"
		}
		return "is not an FQDN: remove the port"
	}
	if _, err := netip.ParseAddr(f); err == nil {
		return "is an IP address, not an FQDN"
	}
	host := f
	if wildcard {
		host = strings.TrimPrefix(f, "*.")
	}
	if strings.Contains(host, "*") {
		if wildcard {
			return "is not an FQDN: a wildcard is allowed only as a leading \"*.\""
		}
		return "is not an FQDN: wildcards are not allowed here"
	}
	if len(host) > 253 {
		return "is longer than 253 characters"
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" {
			return "is not an FQDN: it has an empty label"
		}
		if !dnsLabel().MatchString(label) {
			return fmt.Sprintf("is not an FQDN: label %q must have 1 to 63 letters, digits, '-' or '_' and not start or end with '-'", label)
		}
	}
	return ""
}
