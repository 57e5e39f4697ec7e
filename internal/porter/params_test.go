package porter

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func TestParameterLookupOrder(t *testing.T) {
	t.Parallel()
	run, err := New(Config{
		Registry: "myacr.azurecr.io",
		AgentParameters: map[string]string{
			"tfstate_resource_group_name": "rg-mgmt", "arm_environment": "usgovernment", "key_vault_url": "",
		},
		BundleParameters: map[string]string{
			"tfstate_resource_group_name": "bundle-rg", "id": "bundle-id", "owner_id": "bundle-owner",
			"workspace_id": "bundle-ws", "firewall_policy_id": "fw-1", "nulled": "bundle-null", "aad_authority_url": "bundle-aad",
		},
	})
	require.NoError(t, err)
	msg := &tre.ResourceRequest{ID: "res-1", Action: "install", Name: "bundle", Version: "1.0.0", OwnerID: "owner-1"}
	const wsID = "0f3c2a9e-1b7d-4c55-9e0a-4f2b8d6c9a71"
	child := &tre.ResourceRequest{ID: "svc-1", WorkspaceID: wsID}

	tests := []struct {
		name   string
		params map[string]any
		msg    *tre.ResourceRequest
		want   string // "" means left out
	}{
		{name: "tfstate_resource_group_name", params: map[string]any{"tfstate_resource_group_name": "job"}, msg: msg, want: "job"},
		{name: "tfstate_resource_group_name", msg: msg, want: "rg-mgmt"}, // the agent beats RP_BUNDLE_*
		{name: "mgmt_resource_group_name", msg: msg, want: "rg-mgmt"},    // Guacamole and the Nexus VM require it
		{name: "arm_environment", msg: msg, want: "usgovernment"},
		{name: "azure_environment", msg: msg, want: "AzureCloud"}, // AzureTRE's default
		{name: "aad_authority_url", msg: msg, want: "https://login.microsoftonline.com"},
		{name: "microsoft_graph_fqdn", msg: msg, want: "graph.microsoft.com"},
		{name: "key_vault_url", msg: msg, want: ""}, // an agent key without a value decides: left out
		{name: "registry_server", msg: msg, want: "myacr.azurecr.io"},
		{name: "mgmt_acr_name", msg: msg, want: "myacr"},
		{name: "mgmt_acr_name", want: "myacr"}, // without a message
		{name: "id", msg: msg, want: "res-1"},  // the message root beats RP_BUNDLE_*
		{name: "id", want: "bundle-id"},        // without a message or installation
		{name: "name", msg: msg, want: "bundle"},
		{name: "action", msg: msg, want: "install"},
		{name: "owner_id", msg: msg, want: "owner-1"}, // the special beats RP_BUNDLE_*
		{name: "owner_id", params: map[string]any{"owner_id": "job-owner"}, msg: msg, want: "job-owner"},
		// A child of a workspace gets the workspace's full id; a workspace
		// has its own short workspace_id property, which comes first.
		{name: "workspace_id", msg: child, want: wsID},
		{name: "workspace_id", params: map[string]any{"workspace_id": "9a71"}, msg: &tre.ResourceRequest{ID: wsID}, want: "9a71"},
		{name: "workspace_id", msg: msg, want: ""}, // the special decides, as in AzureTRE: RP_BUNDLE_WORKSPACE_ID is not used
		{name: "workspaceId", msg: child, want: wsID},
		{name: "workspaceId", msg: msg, want: ""}, // not in the message
		{name: "firewall_policy_id", msg: msg, want: "fw-1"},
		{name: "FIREWALL_POLICY_ID", msg: msg, want: "fw-1"},                        // RP_BUNDLE_* are found by lower-case name
		{name: "nulled", params: map[string]any{"nulled": nil}, msg: msg, want: ""}, // null decides, as in AzureTRE
		{name: "missing", msg: msg, want: ""},
		{name: "secretRefs", msg: &tre.ResourceRequest{SecretRefs: map[string]string{"p": "ref"}}, want: ""}, // our additions are not passed
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.want, func(t *testing.T) {
			t.Parallel()
			params, err := run.parameters(tre.Job{Parameters: tt.params, Message: tt.msg}, []string{tt.name})
			require.NoError(t, err)
			if tt.want == "" {
				require.Empty(t, params)
				return
			}
			require.Len(t, params, 1)
			require.Equal(t, tt.name, params[0].name)
			require.Equal(t, tt.want, params[0].value)
		})
	}
}

func TestUnknownAgentParameterIsRefused(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Registry: "myacr.azurecr.io", AgentParameters: map[string]string{"tfstate_container": "x"}})
	require.ErrorContains(t, err, "AgentParameters: unknown agent parameters tfstate_container (known: registry_server, ")
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  string
		ok    bool
	}{
		{"string", "West Europe", "West Europe", true},
		{"empty string", "", "", true},
		{"true", true, "true", true},
		{"false", false, "false", true},
		{"integer from JSON", float64(3), "3", true},
		{"negative", float64(-12), "-12", true},
		{"fraction", 2.50, "2.5", true},
		{"large", 1e21, "1000000000000000000000", true},
		{"int", 42, "42", true},
		{"json.Number", json.Number("7.0"), "7.0", true},
		{"null", nil, "", false},
		// base64 of {"a":[1,true,"x"],"b":"<&>"}: keys sorted, no HTML escaping
		{"object", map[string]any{"b": "<&>", "a": []any{float64(1), true, "x"}}, "eyJhIjpbMSx0cnVlLCJ4Il0sImIiOiI8Jj4ifQ==", true},
		// base64 of ["10.1.0.0/24"]: padded
		{"list", []any{"10.1.0.0/24"}, "WyIxMC4xLjAuMC8yNCJd", true},
		{"empty list", []any{}, "W10=", true},
		{"typed map", map[string]string{"k": "v"}, "eyJrIjoidiJ9", true},
		{"typed list", []string{"a", "b"}, "WyJhIiwiYiJd", true},
		{"typed number", uint8(5), "5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := formatValue(tt.value)
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}

	for _, bad := range []any{math.NaN(), math.Inf(1), make(chan int)} {
		_, _, err := formatValue(bad)
		require.Error(t, err, "%T", bad)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		raw       string
		truncated bool
		want      string
	}{
		{"colours", "\x1b[1;31mError:\x1b[0m boom", false, "Error: boom"},
		{"cursor and erase", "\x1b[2K\x1b[1Gprogress 50%\r\x1b[2K\x1b[1Gprogress 100%", false, "progress 50% progress 100%"},
		{"title", "\x1b]0;porter\x07done", false, "done"},
		{"two-byte escape", "\x1bMup", false, "up"},
		{"whitespace", "  a\t\tb\r\n\n c \x00 d ", false, "a b c d"},
		{"invalid UTF-8", "a\xffb", false, "a\uFFFDb"},
		{"truncated drops the partial first word", "rtial word and more", true, "word and more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, clean([]byte(tt.raw), tt.truncated))
		})
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	require.Equal(t, "user *** at ***", scrub("user hunter2 at hunter2", []string{"hunter2"}))
	// Longest first: a secret holding another is replaced whole.
	require.Equal(t, "key ***", scrub("key hunter2-long", []string{"hunter2", "hunter2-long"}))
	// Whitespace in a secret is collapsed like the output's.
	require.Equal(t, "pass ***", scrub("pass two words", []string{"two\n  words"}))
	// Short values are no credentials.
	require.Equal(t, "exit 1 yes", scrub("exit 1 yes", []string{"1", "yes"}))
}

func TestLastBytes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "short", lastBytes("short", 10))
	require.Equal(t, "...6789", lastBytes("0123456789", 7))
	// "é" is two bytes: a cut between them moves past the second.
	require.Equal(t, "...éfg", lastBytes("abcdéfg", 7))
	got := lastBytes("abcdéfg", 6)
	require.Equal(t, "...fg", got)
	long := strings.Repeat("x", 5000)
	require.Len(t, lastBytes(long, 4096), 4096)
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tail := &tailBuffer{max: 10}
	for range 100 {
		_, _ = tail.Write([]byte("abc"))
	}
	_, _ = tail.Write([]byte("0123456789XY"))
	require.Equal(t, "23456789XY", string(tail.bytes()))
	require.True(t, tail.truncated())

	small := &tailBuffer{max: 10}
	_, _ = small.Write([]byte("abc"))
	require.Equal(t, "abc", string(small.bytes()))
	require.False(t, small.truncated())
	_, _ = small.Write([]byte("0123456789"))
	require.Equal(t, "0123456789", string(small.bytes()))
	require.True(t, small.truncated())
}

func TestPreludeName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "az login", preludeName([]string{"az", "login", "--service-principal", "-p", "secret"}))
	require.Equal(t, "az acr login", preludeName([]string{"/usr/bin/az", "acr", "login", "--name", "myacr"}))
	require.Equal(t, "porter credentials apply f.json", preludeName([]string{"porter", "credentials", "apply", "f.json"}))
}
