package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// A pending operation whose root change the resource does not carry may be
// rolled back: a 409 must not name it (it may never exist).
func TestConflictNeverNamesAnOperationThatMayBeRolledBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	phantom := &tre.Operation{ID: "phantom-op", ResourceID: ws.ID, Action: tre.ActionUpgrade, Status: tre.StatusAwaitingUpdate, Pending: true,
		Steps: []tre.OperationStep{}}
	_, err := tre.CreateAs(ctx, f.store, tre.Operations, phantom.ID, phantom)
	require.NoError(t, err)
	op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "x"}, ETag: ws.ETag, IfMatch: true, User: admin})
	require.NoError(t, err, "the phantom is not in the way: the etag settles a real race")
	_, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "y"}, ETag: f.resource(ws.ID).ETag, IfMatch: true, User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), op.ID, "an operation whose change the resource carries is named")
	require.NotContains(t, tre.ErrorMessage(err), phantom.ID)
}

// address_spaces feeds the firewall rules of the workspace's children: a
// value that is not a CIDR is refused, naming the item, and changes
// nothing.
func TestAddressSpacesMustBeCIDRs(t *testing.T) {
	for name, tc := range map[string]struct {
		value any
		field string
	}{
		"not a CIDR":         {[]any{"10.1.4.0/24", "everywhere"}, "properties.address_spaces[1]"},
		"host bits set":      {[]any{"10.1.4.1/24"}, "properties.address_spaces[0]"},
		"IPv6":               {[]any{"fd00::/64"}, "properties.address_spaces[0]"},
		"a number in a list": {[]any{7}, "properties.address_spaces[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkAddressSpaces(map[string]any{"address_spaces": tc.value})
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
			var e *tre.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.field, e.Field)
		})
	}
	require.NoError(t, checkAddressSpaces(map[string]any{"address_spaces": []any{"10.1.4.0/24", "10.2.0.0/16"}}))
	require.NoError(t, checkAddressSpaces(map[string]any{"other": 1}))
}
