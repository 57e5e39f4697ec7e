package tre

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The message contract between the API and the Resource Processor is
// pinned by golden files: a change of a field name or shape fails here
// before it breaks the other program.
func TestMessageGoldenFiles(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
		want any
	}{
		{"request.json", &ResourceRequest{}, &ResourceRequest{
			OperationID: "5a1e7c47-7a2f-4c8e-9a3d-0d7f1f0b8a11", StepID: "0f0c6a8e-2b52-4d3c-8d5f-8e1f1c2a3b4c", Action: "install",
			ID: "d1c3a6b2-43f8-4f50-9e1b-6a1b2c3d4e5f", Name: "tre-user-resource-sandbox-vm", Version: "0.1.0",
			Parameters:  map[string]any{"admin_password": "REDACTED", "display_name": "VM", "tre_id": "local"},
			WorkspaceID: "9e6b4c2a-1111-4a22-8b33-0c4d5e6f7a8b", OwnerID: "91aa4ad2-7bb0-553c-bdf0-17293d19d9ba",
			ParentWorkspaceServiceID: "4b0c9a7d-2222-4c33-9d44-1e2f3a4b5c6d", ResourceType: TypeUserResource,
			SecretRefs: map[string]string{"/admin_password": "r-d1c3a6b2-43f8-4f50-9e1b-6a1b2c3d4e5f-1a2b3c4d-5e6f7a8b"},
			Attempt:    2, NotAfter: 1795786800,
		}},
		{"status.json", &StatusUpdate{}, &StatusUpdate{
			OperationID: "5a1e7c47-7a2f-4c8e-9a3d-0d7f1f0b8a11", StepID: "0f0c6a8e-2b52-4d3c-8d5f-8e1f1c2a3b4c",
			ID: "d1c3a6b2-43f8-4f50-9e1b-6a1b2c3d4e5f", Status: StatusDeployed,
			Message: "d1c3a6b2-43f8-4f50-9e1b-6a1b2c3d4e5f: install action completed successfully.",
			Outputs: []Output{{Name: "connection_uri", Value: "https://vm-4e5f.sandbox.local", Type: "string"}},
			Agent:   "rp-vm-0", SentAt: 1795783200.5, Attempt: 2,
		}},
		{"cancel.json", &CancelRequest{}, &CancelRequest{
			OperationID: "5a1e7c47-7a2f-4c8e-9a3d-0d7f1f0b8a11", StepID: "0f0c6a8e-2b52-4d3c-8d5f-8e1f1c2a3b4c", Attempt: 2,
			By: "alice (91aa4ad2-7bb0-553c-bdf0-17293d19d9ba)", When: 1795783260, Reason: "wrong size",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden, err := os.ReadFile("testdata/" + tc.file)
			require.NoError(t, err)
			dec := json.NewDecoder(bytes.NewReader(golden))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(tc.v), "the golden file has a field the type does not")
			require.Equal(t, tc.want, tc.v)
			encoded, err := json.Marshal(tc.want)
			require.NoError(t, err)
			require.JSONEq(t, string(golden), string(encoded), "the type encodes to the golden file")
		})
	}
}

// A request as AzureTRE's API sends it (no additions of ours) decodes.
func TestAzureTRERequestDecodes(t *testing.T) {
	golden, err := os.ReadFile("testdata/azuretre-request.json")
	require.NoError(t, err)
	var r ResourceRequest
	require.NoError(t, json.Unmarshal(golden, &r))
	require.Equal(t, "tre-workspace-base", r.Name)
	require.Zero(t, r.Attempt)
	require.Equal(t, "small", r.Parameters["address_space_size"])
}
