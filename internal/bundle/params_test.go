package bundle_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/tre"
)

// docs/bundle-parameters.md's table of the names the processor fills in is
// the lookup's list: same names, same order, same sources, same "Ours".
func TestParameterTableMatchesTheLookup(t *testing.T) {
	b, err := os.ReadFile("../../docs/bundle-parameters.md")
	require.NoError(t, err)
	var rows [][]string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| Parameter | From | Ours |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			for i := range cells {
				cells[i] = strings.ReplaceAll(strings.TrimSpace(cells[i]), "`", "")
			}
			rows = append(rows, cells)
		case in:
			in = false
		}
	}
	require.NotEmpty(t, rows, "the table is in the document")
	var want [][]string
	for _, r := range bundle.Rules() {
		want = append(want, []string{r.Name, string(r.From), r.Ours})
	}
	var got [][]string
	for _, r := range rows {
		require.Len(t, r, 4, "row %v", r)
		got = append(got, r[:3])
	}
	require.Equal(t, want, got)
}

func TestLookup(t *testing.T) {
	s := bundle.Sources{
		Agent:  map[string]string{"registry_server": "acrtre.azurecr.io", "tfstate_resource_group_name": "rg-mgmt"},
		Bundle: map[string]string{"core_api_client_id": "api-1", "workspace_id": "never"},
	}
	require.NoError(t, s.Check())
	require.ErrorContains(t, bundle.Sources{Agent: map[string]string{"nope": "x"}}.Check(), "unknown agent parameters nope")

	msg := &tre.ResourceRequest{ID: "vm-1", WorkspaceID: "ws-full-id", ParentWorkspaceServiceID: "svc-1", OwnerID: "o-1",
		Parameters: map[string]any{"display_name": "VM"}}
	job := tre.Job{Action: "install", Installation: "vm-1", Parameters: map[string]any{"display_name": "VM", "nulled": nil}, Message: msg}
	tests := []struct {
		name  string
		value any
		from  bundle.Source
		found bool
	}{
		{"display_name", "VM", bundle.FromRequest, true},
		{"nulled", nil, bundle.FromRequest, true},
		{"mgmt_resource_group_name", "rg-mgmt", bundle.FromSpecial, true},
		{"mgmt_acr_name", "acrtre", bundle.FromSpecial, true},
		{"tfstate_storage_account_name", nil, bundle.FromAgent, true}, // known key without a value: left out
		{"microsoft_graph_fqdn", "graph.microsoft.com", bundle.FromAgent, true},
		{"id", "vm-1", bundle.FromMessage, true},
		{"parameters", map[string]any{"display_name": "VM"}, bundle.FromMessage, true},
		{"workspace_id", "ws-full-id", bundle.FromSpecial, true},
		{"parent_service_id", "svc-1", bundle.FromSpecial, true},
		{"owner_id", "o-1", bundle.FromSpecial, true},
		{"core_api_client_id", "api-1", bundle.FromBundleSetting, true},
		{"Core_Api_Client_ID", "api-1", bundle.FromBundleSetting, true},
		{"unknown", nil, "", false},
	}
	for _, tt := range tests {
		v, from, found := s.Lookup(tt.name, job)
		require.Equal(t, tt.value, v, tt.name)
		require.Equal(t, tt.from, from, tt.name)
		require.Equal(t, tt.found, found, tt.name)
	}

	// Without a message (the local runner's tools and tests), the job
	// stands in for it.
	v, _, _ := s.Lookup("id", tre.Job{Installation: "inst-1", Bundle: "b"})
	require.Equal(t, "inst-1", v)
	v, _, found := s.Lookup("workspace_id", tre.Job{Installation: "inst-1"})
	require.True(t, found)
	require.Nil(t, v, "the special decides even without a value")
}
