package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/tre"
)

const ntpRulesJSON = `{"network_rule_collections":[{"name":"nrc_ntp","rules":[{"name":"ntp-time","protocols":["UDP"],
	"destination_addresses":["*"],"destination_ports":["123"],"source_addresses":["10.0.0.0/12"]}]}]}`

func ntpRules() firewall.RuleSet {
	var rs firewall.RuleSet
	if err := json.Unmarshal([]byte(ntpRulesJSON), &rs); err != nil {
		panic(err)
	}
	return rs
}

func TestFirewallManualRulesOverHTTP(t *testing.T) {
	e := openEnv(t, t.TempDir())
	admin := e.token("admin", "TREAdmin")

	status, body, _ := e.do("PUT", "/api/firewall/manual-rules/ntp-rules", admin, ntpRulesJSON)
	require.Equal(t, http.StatusOK, status, body)
	var m struct {
		Name      string   `json:"name"`
		UpdatedBy tre.User `json:"updatedBy"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	assert.Equal(t, "ntp-rules", m.Name)
	assert.Equal(t, "admin", m.UpdatedBy.Name)
	e.reconcile()

	status, body, _ = e.do("GET", "/api/firewall", admin, "")
	require.Equal(t, http.StatusOK, status, body)
	var view struct {
		Applied []tre.RuleCollectionGroup `json:"applied"`
		Owners  []firewall.Owned          `json:"owners"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &view))
	require.Len(t, view.Applied, 1)
	assert.Equal(t, "rcg-tre-manual-network", view.Applied[0].Name)
	require.Len(t, view.Owners, 1)
	assert.Equal(t, "ntp-rules", view.Owners[0].Owner.ID)

	// Bad input: a 400 naming the field, and nothing changes.
	for name, tc := range map[string]struct{ path, body, field string }{
		"bad port": {"/api/firewall/manual-rules/ntp-rules",
			`{"network_rule_collections":[{"name":"nrc_ntp","rules":[{"name":"ntp-time","protocols":["UDP"],"destination_addresses":["*"],"destination_ports":["70000"],"source_addresses":["*"]}]}]}`,
			`network_rule_collections[0] "nrc_ntp".rules[0] "ntp-time"`},
		"bad fqdn": {"/api/firewall/manual-rules/pypi",
			`{"rule_collections":[{"name":"arc_pypi","rules":[{"name":"pypi-org","protocols":[{"port":"443","type":"Https"}],"target_fqdns":["pypi org"],"source_addresses":["*"]}]}]}`,
			`rule_collections[0] "arc_pypi".rules[0] "pypi-org"`},
		"unknown member": {"/api/firewall/manual-rules/pypi", `{"rules":[]}`, ""},
		"bad name":       {"/api/firewall/manual-rules/-x", ntpRulesJSON, "name"},
		"empty":          {"/api/firewall/manual-rules/ntp-rules", `{}`, "rule_collections"},
		"null":           {"/api/firewall/manual-rules/ntp-rules", `null`, "rule_collections"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body, _ := e.do("PUT", tc.path, admin, tc.body)
			require.Equal(t, http.StatusBadRequest, status, body)
			var problem struct {
				Field string `json:"field"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &problem))
			if tc.field != "" {
				assert.Equal(t, tc.field, problem.Field)
			}
			_, after, _ := e.do("GET", "/api/firewall/manual-rules", admin, "")
			var list struct {
				ManualRules []struct {
					Name  string           `json:"name"`
					Rules firewall.RuleSet `json:"rules"`
				} `json:"manualRules"`
			}
			require.NoError(t, json.Unmarshal([]byte(after), &list))
			require.Len(t, list.ManualRules, 1)
			assert.Equal(t, "123", list.ManualRules[0].Rules.NetworkRuleCollections[0].Rules[0].DestinationPorts[0])
		})
	}

	status, body, _ = e.do("GET", "/api/firewall/manual-rules/absent", admin, "")
	assert.Equal(t, http.StatusNotFound, status, body)
	status, body, _ = e.do("DELETE", "/api/firewall/manual-rules/absent", admin, "")
	assert.Equal(t, http.StatusNotFound, status, body)

	status, body, _ = e.do("DELETE", "/api/firewall/manual-rules/ntp-rules", admin, "")
	require.Equal(t, http.StatusOK, status, body)
	status, body, _ = e.do("POST", "/api/firewall/reconcile", admin, "")
	require.Equal(t, http.StatusOK, status, body)
	groups, err := (&firewallfile.Backend{Path: e.dir + "/firewall.json"}).Groups(t.Context())
	require.NoError(t, err)
	assert.Empty(t, groups, "the rules are gone from the firewall")
}

func TestFirewallReconcileTrigger(t *testing.T) {
	e := openEnv(t, t.TempDir())
	fb := &firewallfile.Backend{Path: e.dir + "/firewall.json"}
	orphan := tre.RuleCollectionGroup{Name: "rcg-tre-network", Priority: 500, Collections: []tre.RuleCollection{{
		Name: "gone.nrc", Priority: 1000, Action: tre.RuleAllow, NetworkRules: []tre.NetworkRule{{
			Name: "old-ssh", Protocols: []string{"TCP"}, DestinationAddresses: []string{"*"}, DestinationPorts: []string{"22"}, SourceAddresses: []string{"*"}}}}}}
	require.NoError(t, fb.Put(t.Context(), orphan))
	timer, err := os.ReadFile("../funchost/testdata/timer.json")
	require.NoError(t, err)
	code, out := e.invoke(api.FunctionFirewallReconcile, timer)
	require.Equal(t, http.StatusOK, code, out)
	require.NotEmpty(t, out.Logs)
	assert.Contains(t, out.Logs[0], "firewall updated")
	groups, err := fb.Groups(t.Context())
	require.NoError(t, err)
	assert.Empty(t, groups, "drift is removed")
	code, out = e.invoke(api.FunctionFirewallReconcile, timer)
	require.Equal(t, http.StatusOK, code, out)
	assert.Contains(t, out.Logs[0], "firewall in sync")
}
