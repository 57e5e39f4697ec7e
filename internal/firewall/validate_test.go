package firewall

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// validSet returns a rule set that passes Validate and uses every field.
func validSet() RuleSet {
	return RuleSet{
		ApplicationRuleCollections: []ApplicationRuleCollection{{
			Name:   "arc_svc_web",
			Action: "Allow",
			Rules: []tre.ApplicationRule{{
				Name:            "allow-pypi",
				Description:     "package mirror",
				Protocols:       []tre.Protocol{{Port: "443", Type: "Https"}, {Port: "1433", Type: "Mssql"}},
				TargetFQDNs:     []string{"pypi.org", "*.pythonhosted.org"},
				SourceAddresses: []string{"10.1.0.0/24", "*", "fd00::/64"},
			}, {
				Name:             "allow-updates",
				Protocols:        []tre.Protocol{{Port: "80", Type: "Http"}},
				FQDNTags:         []string{"WindowsUpdate"},
				SourceIPGroupIDs: []string{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/ipGroups/ipg1"},
			}},
		}},
		NetworkRuleCollections: []NetworkRuleCollection{{
			Name: "nrc_svc_net",
			Rules: []tre.NetworkRule{{
				Name:                  "allow-dns",
				SourceAddresses:       []string{"10.1.0.0/24", "10.2.0.1-10.2.0.9"},
				DestinationAddresses:  []string{"168.63.129.16", "AzureCloud", "Storage.WestEurope", "2001:db8::1"},
				DestinationIPGroupIDs: []string{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/ipGroups/ipg2"},
				DestinationFQDNs:      []string{"time.windows.com"},
				DestinationPorts:      []string{"53", "8000-8080", "*"},
				Protocols:             []string{"UDP", "TCP", "ICMP", "Any"},
			}},
		}},
	}
}

func TestValidateAcceptsValidSet(t *testing.T) {
	require.NoError(t, Validate(validSet()))
	require.NoError(t, Validate(RuleSet{}))
}

func TestValidateReportsEachProblem(t *testing.T) {
	app := func(f func(*tre.ApplicationRule)) func(*RuleSet) {
		return func(rs *RuleSet) { f(&rs.ApplicationRuleCollections[0].Rules[0]) }
	}
	net := func(f func(*tre.NetworkRule)) func(*RuleSet) {
		return func(rs *RuleSet) { f(&rs.NetworkRuleCollections[0].Rules[0]) }
	}
	const appRule = `rule_collections[0] "arc_svc_web".rules[0] "allow-pypi"`
	const netRule = `network_rule_collections[0] "nrc_svc_net".rules[0] "allow-dns"`
	tests := []struct {
		name    string
		change  func(*RuleSet)
		field   string
		message string
	}{
		{"empty collection name", func(rs *RuleSet) { rs.NetworkRuleCollections[0].Name = "" },
			`network_rule_collections[0] ""`, "name is empty"},
		{"collection name characters", func(rs *RuleSet) { rs.ApplicationRuleCollections[0].Name = "arc web" },
			`rule_collections[0] "arc web"`, `name "arc web" may contain only`},
		{"collection name too long", func(rs *RuleSet) { rs.ApplicationRuleCollections[0].Name = strings.Repeat("a", 81) },
			`rule_collections[0] "` + strings.Repeat("a", 81) + `"`, "must have 1 to 80 characters"},
		{"duplicate collection names ignore case", func(rs *RuleSet) {
			c := rs.NetworkRuleCollections[0]
			c.Name = "NRC_SVC_NET"
			rs.NetworkRuleCollections = append(rs.NetworkRuleCollections, c)
		}, `network_rule_collections[1] "NRC_SVC_NET"`, "is also used by network_rule_collections[0]"},
		{"unknown action", func(rs *RuleSet) { rs.NetworkRuleCollections[0].Action = "Drop" },
			`network_rule_collections[0] "nrc_svc_net"`, `action "Drop" must be Allow or Deny`},
		{"duplicate rule names", func(rs *RuleSet) {
			c := &rs.ApplicationRuleCollections[0]
			c.Rules[1].Name = "Allow-PyPI"
		}, `rule_collections[0] "arc_svc_web".rules[1] "Allow-PyPI"`, "is also used by rules[0]"},
		{"empty app rule name", app(func(r *tre.ApplicationRule) { r.Name = "" }),
			`rule_collections[0] "arc_svc_web".rules[0] ""`, "name is empty"},
		{"network rule name under 5 characters", net(func(r *tre.NetworkRule) { r.Name = "dns" }),
			`network_rule_collections[0] "nrc_svc_net".rules[0] "dns"`, "must have 5 to 80 characters"},
		{"no protocols", app(func(r *tre.ApplicationRule) { r.Protocols = nil }), appRule, "protocols is empty"},
		{"protocol type", app(func(r *tre.ApplicationRule) { r.Protocols[0].Type = "HTTPS" }), appRule,
			`protocols[0].type "HTTPS" must be one of Http, Https, Mssql`},
		{"protocol port", app(func(r *tre.ApplicationRule) { r.Protocols[1].Port = "65000" }), appRule,
			`protocols[1].port "65000" is not a port from 1 to 64000`},
		{"protocol port not a number", app(func(r *tre.ApplicationRule) { r.Protocols[0].Port = "https" }), appRule,
			`protocols[0].port "https" is not a port`},
		{"no targets", app(func(r *tre.ApplicationRule) { r.TargetFQDNs = nil }), appRule, "target_fqdns or fqdn_tags is required"},
		{"fqdns and tags together", app(func(r *tre.ApplicationRule) { r.FQDNTags = []string{"WindowsUpdate"} }), appRule,
			"cannot be combined"},
		{"empty fqdn (AzureTRE #3448)", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[1] = "" }), appRule,
			`target_fqdns[1] "" is empty`},
		{"fqdn with scheme", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "https://pypi.org" }), appRule,
			`target_fqdns[0] "https://pypi.org" is not an FQDN: remove the scheme`},
		{"fqdn with path", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "pypi.org/simple" }), appRule, "remove the path"},
		{"fqdn with port", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "pypi.org:443" }), appRule, "remove the port"},
		{"fqdn inner wildcard", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "py*.org" }), appRule,
			`a wildcard is allowed only as a leading "*."`},
		{"fqdn empty label", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "pypi..org" }), appRule, "empty label"},
		{"fqdn trailing dot", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "pypi.org." }), appRule, "empty label"},
		{"fqdn label hyphen", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "-pypi.org" }), appRule, `label "-pypi"`},
		{"fqdn is an ip", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = "10.0.0.1" }), appRule, "is an IP address, not an FQDN"},
		{"fqdn too long", app(func(r *tre.ApplicationRule) { r.TargetFQDNs[0] = strings.Repeat("a.", 127) + "org" }), appRule, "longer than 253"},
		{"unknown fqdn tag", app(func(r *tre.ApplicationRule) { r.TargetFQDNs = nil; r.FQDNTags = []string{"Everything"} }), appRule,
			`fqdn_tags[0] "Everything" must be one of`},
		{"no sources", app(func(r *tre.ApplicationRule) { r.SourceAddresses = nil }), appRule,
			"source_addresses or source_ip_group_ids is required"},
		{"empty source", app(func(r *tre.ApplicationRule) { r.SourceAddresses[0] = "" }), appRule,
			`source_addresses[0] "" is not an IP address`},
		{"bad cidr", app(func(r *tre.ApplicationRule) { r.SourceAddresses[0] = "10.1.0.0/33" }), appRule,
			`source_addresses[0] "10.1.0.0/33" is not an IP address`},
		{"service tag as source", net(func(r *tre.NetworkRule) { r.SourceAddresses[0] = "AzureCloud" }), netRule,
			`source_addresses[0] "AzureCloud" is not an IP address, CIDR, IP range or *`},
		{"reversed ip range", net(func(r *tre.NetworkRule) { r.SourceAddresses[1] = "10.2.0.9-10.2.0.1" }), netRule,
			`source_addresses[1] "10.2.0.9-10.2.0.1"`},
		{"bad ip group id", app(func(r *tre.ApplicationRule) { r.SourceIPGroupIDs = []string{"ipg1"} }), appRule,
			`source_ip_group_ids[0] "ipg1" is not an IP group resource id`},
		{"no destinations", net(func(r *tre.NetworkRule) {
			r.DestinationAddresses, r.DestinationIPGroupIDs, r.DestinationFQDNs = nil, nil, nil
		}), netRule, "destination_addresses, destination_ip_group_ids or destination_fqdns is required"},
		{"bad destination address", net(func(r *tre.NetworkRule) { r.DestinationAddresses[0] = "github.com/x" }), netRule,
			`destination_addresses[0] "github.com/x" is not an IP address, CIDR, IP range, service tag or *`},
		{"lower-case fqdn as destination address", net(func(r *tre.NetworkRule) { r.DestinationAddresses[0] = "github.com" }), netRule,
			`destination_addresses[0] "github.com"`},
		{"wildcard destination fqdn", net(func(r *tre.NetworkRule) { r.DestinationFQDNs[0] = "*.windows.com" }), netRule,
			"wildcards are not allowed here"},
		{"bad destination ip group", net(func(r *tre.NetworkRule) { r.DestinationIPGroupIDs[0] = "" }), netRule,
			`destination_ip_group_ids[0] "" is not an IP group resource id`},
		{"no ports", net(func(r *tre.NetworkRule) { r.DestinationPorts = nil }), netRule, "destination_ports is empty"},
		{"port out of range", net(func(r *tre.NetworkRule) { r.DestinationPorts[1] = "70000" }), netRule,
			`destination_ports[1] "70000" is not a port or range`},
		{"port zero", net(func(r *tre.NetworkRule) { r.DestinationPorts[0] = "0" }), netRule, `destination_ports[0] "0" is not a port or range`},
		{"reversed port range", net(func(r *tre.NetworkRule) { r.DestinationPorts[1] = "8080-8000" }), netRule,
			`destination_ports[1] "8080-8000" is not a port or range`},
		{"empty port", net(func(r *tre.NetworkRule) { r.DestinationPorts[0] = "" }), netRule, `destination_ports[0] "" is not a port or range`},
		{"no network protocols", net(func(r *tre.NetworkRule) { r.Protocols = nil }), netRule, "protocols is empty"},
		{"network protocol enum", net(func(r *tre.NetworkRule) { r.Protocols[0] = "udp" }), netRule,
			`protocols[0] "udp" must be one of Any, ICMP, TCP, UDP`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := validSet()
			tc.change(&rs)
			err := Validate(rs)
			require.Error(t, err)
			var e *tre.Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, tre.CodeInvalid, e.Code)
			require.Len(t, e.Fields, 1, "exactly one problem expected: %v", err)
			require.Equal(t, tc.field, e.Fields[0].Field)
			require.Contains(t, e.Fields[0].Message, tc.message)
		})
	}
}

func TestValidateReportsAllProblemsAtOnce(t *testing.T) {
	rs := validSet()
	rs.NetworkRuleCollections[0].Name = "nrc_x"
	rs.NetworkRuleCollections[0].Rules = append(rs.NetworkRuleCollections[0].Rules, tre.NetworkRule{
		Name: "allow-dns2", SourceAddresses: []string{"10.0.0.0/8"}, DestinationAddresses: []string{"*"},
		DestinationPorts: []string{"70000"}, Protocols: []string{"UDP"},
	})
	rs.ApplicationRuleCollections[0].Rules[0].TargetFQDNs = []string{""}
	rs.ApplicationRuleCollections[0].Rules[1].Protocols = nil

	err := Validate(rs)
	var e *tre.Error
	require.True(t, errors.As(err, &e))
	require.Len(t, e.Fields, 3)
	require.Equal(t, "invalid firewall rules: "+
		`rule_collections[0] "arc_svc_web".rules[0] "allow-pypi": target_fqdns[0] "" is empty; `+
		`rule_collections[0] "arc_svc_web".rules[1] "allow-updates": protocols is empty; `+
		`network_rule_collections[0] "nrc_x".rules[1] "allow-dns2": destination_ports[0] "70000" is not a port or range`,
		e.Message)
}

func TestProtocolPortAcceptsStringOrNumber(t *testing.T) {
	tests := []struct {
		json string
		want tre.Protocol
		err  bool
	}{
		{`{"port":"443","type":"Https"}`, tre.Protocol{Port: "443", Type: "Https"}, false},
		{`{"port":443,"type":"Https"}`, tre.Protocol{Port: "443", Type: "Https"}, false},
		{`{"type":"Http"}`, tre.Protocol{Type: "Http"}, false},
		{`{"port":4.5,"type":"Http"}`, tre.Protocol{}, true},
		{`{"port":true,"type":"Http"}`, tre.Protocol{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) {
			var p tre.Protocol
			err := json.Unmarshal([]byte(tc.json), &p)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
		})
	}
}

func TestRuleSetJSONUsesAzureTRENames(t *testing.T) {
	// A firewall shared service's properties as AzureTRE stores them,
	// including the deprecated action.
	const in = `{
	  "rule_collections": [{"name": "arc_web", "action": "Allow", "rules": [{
	    "name": "allow-web", "description": "d", "protocols": [{"port": "443", "type": "Https"}],
	    "target_fqdns": ["example.com"], "source_addresses": ["10.0.0.0/24"],
	    "source_ip_group_ids": ["/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/ipGroups/g"]}]}],
	  "network_rule_collections": [{"name": "nrc_net", "rules": [{
	    "name": "allow-ntp", "source_addresses": ["10.0.0.0/24"], "destination_addresses": ["*"],
	    "destination_ip_group_ids": [], "destination_fqdns": ["time.windows.com"],
	    "destination_ports": ["123"], "protocols": ["UDP"]}]}]
	}`
	var rs RuleSet
	require.NoError(t, json.Unmarshal([]byte(in), &rs))
	require.NoError(t, Validate(rs))
	require.Equal(t, "arc_web", rs.ApplicationRuleCollections[0].Name)
	require.Equal(t, []string{"example.com"}, rs.ApplicationRuleCollections[0].Rules[0].TargetFQDNs)
	require.Equal(t, []tre.Protocol{{Port: "443", Type: "Https"}}, rs.ApplicationRuleCollections[0].Rules[0].Protocols)
	require.Equal(t, []string{"time.windows.com"}, rs.NetworkRuleCollections[0].Rules[0].DestinationFQDNs)
	require.Equal(t, []string{"123"}, rs.NetworkRuleCollections[0].Rules[0].DestinationPorts)
}
