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
		Registry:         "myacr.azurecr.io",
		AgentParameters:  map[string]string{"shared": "agent", "action": "agent-action", "agent_only": "a"},
		BundleParameters: map[string]string{"shared": "bundle", "id": "bundle-id", "owner_id": "bundle-owner", "workspace_id": "bundle-ws", "bundle_only": "b", "nulled": "bundle-null"},
	})
	require.NoError(t, err)
	msg := &tre.ResourceRequest{ID: "res-1", Action: "install", Name: "bundle", Version: "1.0.0", OwnerID: "owner-1"}

	tests := []struct {
		name   string
		params map[string]any
		msg    *tre.ResourceRequest
		want   string // "" means left out
	}{
		{name: "shared", params: map[string]any{"shared": "job"}, msg: msg, want: "job"},
		{name: "shared", msg: msg, want: "agent"},
		{name: "action", msg: msg, want: "agent-action"}, // the agent beats the message root
		{name: "id", msg: msg, want: "res-1"},            // the message root beats RP_BUNDLE_*
		{name: "name", msg: msg, want: "bundle"},
		{name: "owner_id", msg: msg, want: "owner-1"}, // the special beats RP_BUNDLE_*
		{name: "owner_id", params: map[string]any{"owner_id": "job-owner"}, msg: msg, want: "job-owner"},
		{name: "workspace_id", msg: msg, want: "bundle-ws"}, // no workspaceId in the message
		{name: "workspace_id", msg: &tre.ResourceRequest{WorkspaceID: "ws-1"}, want: "ws-1"},
		{name: "mgmt_acr_name", msg: msg, want: "myacr"},
		{name: "mgmt_acr_name", want: "myacr"}, // without a message
		{name: "id", want: "bundle-id"},        // without a message
		{name: "agent_only", msg: msg, want: "a"},
		{name: "bundle_only", msg: msg, want: "b"},
		{name: "nulled", params: map[string]any{"nulled": nil}, msg: msg, want: ""}, // null decides, as in AzureTRE
		{name: "missing", msg: msg, want: ""},
		{name: "workspaceId", msg: msg, want: ""}, // omitted from the message JSON when empty
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
