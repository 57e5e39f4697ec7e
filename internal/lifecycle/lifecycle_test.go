package lifecycle

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func TestCreateInstallAndOutputs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, op := f.createWorkspace(map[string]any{"client_secret": "s3cr3t-value"})

	require.Equal(t, tre.StatusAwaitingDeployment, op.Status)
	require.Len(t, op.Steps, 1)
	require.Equal(t, "main", op.Steps[0].TemplateStepID)
	stored := f.resource(r.ID)
	require.Equal(t, tre.StatusAwaitingDeployment, stored.DeploymentStatus)
	require.Equal(t, "tre1", stored.Properties["tre_id"])
	require.Equal(t, r.ID[len(r.ID)-4:], stored.Properties["workspace_id"])
	require.Equal(t, "10.1.4.0/24", stored.Properties["address_space"], "smallest free block first: the /22 after the core")
	require.Equal(t, admin.ID, stored.Properties["workspace_owner_object_id"])
	require.Equal(t, tre.Redacted, stored.Properties["client_secret"])
	require.Len(t, stored.SecretRefs, 1)
	secret, err := f.secrets.Get(ctx, stored.SecretRefs["/client_secret"])
	require.NoError(t, err)
	require.Equal(t, `"s3cr3t-value"`, secret)
	require.False(t, f.operation(op.ID).Pending)
	require.NotZero(t, f.operation(op.ID).Steps[0].DispatchedWhen)

	// One request message, with the reference instead of the value.
	reqs := f.sent.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, tre.ActionInstall, reqs[0].Action)
	require.Equal(t, "ws", reqs[0].Name)
	require.Equal(t, tre.Redacted, reqs[0].Parameters["client_secret"])
	require.Equal(t, stored.SecretRefs, reqs[0].SecretRefs)

	require.Equal(t, Applied, f.status(op, 0, tre.StatusDeploying))
	require.Equal(t, tre.StatusDeploying, f.resource(r.ID).DeploymentStatus)
	require.Equal(t, Heartbeat, f.status(op, 0, tre.StatusDeploying))
	require.Equal(t, Applied, f.status(op, 0, tre.StatusDeployed,
		tre.Output{Name: "connection_uri", Value: `"https://ws.example"`, Type: "string"},
		tre.Output{Name: "is_exposed", Value: "True", Type: "boolean"},
		tre.Output{Name: "nothing", Value: nil}))
	got := f.resource(r.ID)
	require.Equal(t, tre.StatusDeployed, got.DeploymentStatus)
	require.Equal(t, "https://ws.example", got.Properties["connection_uri"])
	require.Equal(t, true, got.Properties["is_exposed"])
	require.NotContains(t, got.Properties, "nothing")
	require.Equal(t, tre.StatusDeployed, f.operation(op.ID).Status)

	// Duplicates and late messages change nothing.
	before := f.operation(op.ID)
	require.Equal(t, Ignored, f.status(op, 0, tre.StatusDeployed))
	require.Equal(t, Ignored, f.status(op, 0, tre.StatusDeploying))
	require.Equal(t, Ignored, f.status(op, 0, tre.StatusDeploymentFailed))
	after := f.operation(op.ID)
	require.Equal(t, before.ETag, after.ETag, "an ignored message writes nothing")
	require.Equal(t, tre.StatusDeployed, f.resource(r.ID).DeploymentStatus)

	// The secret value is nowhere in the store file.
	data, err := os.ReadFile(filepath.Join(f.dir, "tre.db"))
	require.NoError(t, err)
	wal, _ := os.ReadFile(filepath.Join(f.dir, "tre.db-wal"))
	require.NotContains(t, string(data)+string(wal), "s3cr3t-value")
}

func TestStatusValidation(t *testing.T) {
	f := newFixture(t)
	_, op := f.createWorkspace(nil)
	ctx := context.Background()
	step := op.Steps[0]
	for name, tc := range map[string]struct {
		upd  tre.StatusUpdate
		code tre.Code
	}{
		"no ids":         {tre.StatusUpdate{Status: tre.StatusDeployed}, tre.CodeInvalid},
		"bad status":     {tre.StatusUpdate{OperationID: op.ID, StepID: step.ID, ID: step.ResourceID, Status: "done"}, tre.CodeInvalid},
		"wrong action":   {tre.StatusUpdate{OperationID: op.ID, StepID: step.ID, ID: step.ResourceID, Status: tre.StatusDeleted}, tre.CodeInvalid},
		"unknown op":     {tre.StatusUpdate{OperationID: "nope", StepID: step.ID, ID: step.ResourceID, Status: tre.StatusDeployed}, tre.CodeNotFound},
		"unknown step":   {tre.StatusUpdate{OperationID: op.ID, StepID: "nope", ID: step.ResourceID, Status: tre.StatusDeployed}, tre.CodeNotFound},
		"wrong resource": {tre.StatusUpdate{OperationID: op.ID, StepID: step.ID, ID: "other", Status: tre.StatusDeployed}, tre.CodeNotFound},
	} {
		_, err := f.svc.ApplyStatus(ctx, tc.upd)
		require.Equal(t, tc.code, tre.ErrorCode(err), name)
	}
}

func TestChildrenNeedDeployedEnabledParents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, op := f.createWorkspace(nil)
	req := CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "plain-svc",
		Properties: map[string]any{"display_name": "S", "description": "d"}, User: owner, Roles: []string{"WorkspaceOwner"}}
	_, _, err := f.svc.Create(ctx, req)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Equal(t, "Workspace is not deployed.", tre.ErrorMessage(err))
	f.complete(op)

	svc, svcOp, err := f.svc.Create(ctx, req)
	require.NoError(t, err)
	require.Equal(t, ws.ID, svc.WorkspaceID)
	require.Equal(t, "/workspaces/"+ws.ID+"/workspace-services/"+svc.ID, svc.ResourcePath)

	ur := CreateRequest{Type: tre.TypeUserResource, WorkspaceID: ws.ID, ServiceID: svc.ID, TemplateName: "vm",
		Properties: map[string]any{"display_name": "VM", "description": "d", "os": "linux"}, User: owner, Roles: []string{"WorkspaceResearcher"}}
	_, _, err = f.svc.Create(ctx, ur)
	require.Equal(t, "Workspace service is not deployed.", tre.ErrorMessage(err))
	f.complete(svcOp)
	vm, _, err := f.svc.Create(ctx, ur)
	require.NoError(t, err)
	require.Equal(t, owner.ID, vm.OwnerID)

	// A disabled parent holds no new children (AzureTRE only checks deployed).
	wsNow := f.resource(ws.ID)
	disabled := false
	op2, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), IsEnabled: &disabled, ETag: wsNow.ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	_ = op2
	_, _, err = f.svc.Create(ctx, req)
	require.Equal(t, "Workspace is disabled.", tre.ErrorMessage(err))

	// Unknown template, bad properties.
	_, _, err = f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "nope", User: admin})
	require.Equal(t, `The template "nope" does not exist`, tre.ErrorMessage(err))
	_, _, err = f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: admin,
		Properties: map[string]any{"display_name": 1, "description": "d", "colour": "x"}})
	var e *tre.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, tre.CodeInvalid, e.Code)
	require.Len(t, e.Fields, 2)
	require.Equal(t, "properties.colour", e.Fields[0].Field)
	require.Equal(t, "properties.display_name", e.Fields[1].Field)
}

func TestPatchETagsAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	ops, history := f.count(tre.Operations), f.count(tre.ResourceHistory)

	// Stale etags: 412 with If-Match, 409 with AzureTRE's etag header; nothing written.
	_, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "x"}, ETag: "stale", IfMatch: true, User: admin})
	require.Equal(t, tre.CodePreconditionFailed, tre.ErrorCode(err))
	_, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "x"}, ETag: "stale", User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Equal(t, ETagConflictMessage, tre.ErrorMessage(err))
	// Not updateable: 400, nothing written.
	_, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"size": "x"}, ETag: ws.ETag, IfMatch: true, User: admin})
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	require.Equal(t, ops, f.count(tre.Operations))
	require.Equal(t, history, f.count(tre.ResourceHistory))
	require.Equal(t, ws.ETag, f.resource(ws.ID).ETag)

	op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "renamed", "client_secret": "new-secret"},
		ETag: `"` + ws.ETag + `"`, IfMatch: true, User: admin})
	require.NoError(t, err)
	require.Equal(t, tre.ActionUpgrade, op.Action)
	got := f.resource(ws.ID)
	require.Equal(t, "renamed", got.Properties["display_name"])
	require.Equal(t, tre.Redacted, got.Properties["client_secret"])
	require.Equal(t, tre.StatusAwaitingUpdate, got.DeploymentStatus)
	require.Equal(t, ws.ResourceVersion+1, got.ResourceVersion)
	items, err := f.svc.History(ctx, got)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, "WS", items[0].Properties["display_name"], "history holds the previous state")
	require.Equal(t, ws.ResourceVersion, items[0].ResourceVersion)
	v, err := f.secrets.Get(ctx, got.SecretRefs["/client_secret"])
	require.NoError(t, err)
	require.Equal(t, `"new-secret"`, v)

	// While that operation runs, another patch is refused.
	_, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), ETag: got.ETag, IfMatch: true, User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	require.Contains(t, tre.ErrorMessage(err), "in progress")
	f.complete(op)
	require.Equal(t, tre.StatusUpdated, f.resource(ws.ID).DeploymentStatus)

	// "*" matches whatever version is stored, in either header (AzureTRE's
	// e2e helpers disable with etag: *).
	for _, ifMatch := range []bool{false, true} {
		op, err = f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), Properties: map[string]any{"display_name": "any version"},
			ETag: "*", IfMatch: ifMatch, User: admin})
		require.NoError(t, err)
		f.complete(op)
	}
	require.Equal(t, "any version", f.resource(ws.ID).Properties["display_name"])
}

func TestDisableCascadeAndDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	svc, svcOp, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "plain-svc",
		Properties: map[string]any{"display_name": "S", "description": "d"}, User: owner})
	require.NoError(t, err)
	f.complete(svcOp)
	vm, vmOp, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeUserResource, WorkspaceID: ws.ID, ServiceID: svc.ID, TemplateName: "vm",
		Properties: map[string]any{"display_name": "VM", "description": "d"}, User: owner})
	require.NoError(t, err)
	f.complete(vmOp)

	_, err = f.svc.Delete(ctx, WorkspaceRef(ws.ID), admin)
	require.Equal(t, "The workspace needs to be disabled before you can delete it", tre.ErrorMessage(err))

	ws = f.resource(ws.ID)
	off := false
	op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), IsEnabled: &off, ETag: ws.ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	var order []string
	for _, st := range op.Steps {
		order = append(order, st.ResourceID)
	}
	require.Equal(t, []string{vm.ID, svc.ID, ws.ID}, order, "children first, deepest first, in one operation")
	for _, id := range order {
		require.False(t, f.resource(id).IsEnabled)
	}
	op = f.complete(op)
	require.Equal(t, tre.StatusUpdated, op.Status)
	require.Equal(t, "Multi step pipeline completed successfully", op.Message)

	del, err := f.svc.Delete(ctx, WorkspaceRef(ws.ID), admin)
	require.NoError(t, err)
	require.Equal(t, tre.ActionUninstall, del.Action)
	require.Len(t, del.Steps, 3)
	require.Equal(t, vm.ID, del.Steps[0].ResourceID)
	f.complete(del)
	for _, id := range order {
		require.Equal(t, tre.StatusDeleted, f.resource(id).DeploymentStatus)
	}
	_, err = f.svc.Get(ctx, WorkspaceRef(ws.ID))
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err), "deleted resources are not found")

	// The address space is free again.
	again, _ := f.createWorkspace(nil)
	require.Equal(t, ws.Properties["address_space"], f.resource(again.ID).Properties["address_space"])
}

// AzureTRE #3256: a workspace whose install failed can be disabled and deleted.
func TestFailedInstallCanBeDisabledAndDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, op := f.createWorkspace(nil)
	f.status(op, 0, tre.StatusDeploying)
	f.status(op, 0, tre.StatusDeploymentFailed)
	got := f.operation(op.ID)
	require.Equal(t, tre.StatusDeploymentFailed, got.Status)
	require.Equal(t, ws.ID+": deployment_failed", got.Message, "the step's own message")

	r := f.resource(ws.ID)
	off := false
	dis, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), IsEnabled: &off, ETag: r.ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	require.Empty(t, dis.Steps, "nothing to upgrade: the bundle never installed")
	require.Equal(t, tre.StatusUpdated, dis.Status)
	require.Equal(t, tre.StatusDeploymentFailed, f.resource(ws.ID).DeploymentStatus)

	del, err := f.svc.Delete(ctx, WorkspaceRef(ws.ID), admin)
	require.NoError(t, err)
	require.Len(t, del.Steps, 1)
	f.complete(del)
	require.Equal(t, tre.StatusDeleted, f.resource(ws.ID).DeploymentStatus)
}

func TestPipelineStepOnSharedService(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	_, _, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "svc",
		Properties: map[string]any{"display_name": "S", "description": "d"}, User: owner})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err), "the pipeline's target does not exist yet")
	require.Contains(t, tre.ErrorMessage(err), `"firewall"`)

	fw, fwOp, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeSharedService, TemplateName: "firewall",
		Properties: map[string]any{"display_name": "FW", "description": "d"}, User: admin})
	require.NoError(t, err)
	f.complete(fwOp)

	svc, op, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: ws.ID, TemplateName: "svc",
		Properties: map[string]any{"display_name": "S", "description": "d"}, User: owner})
	require.NoError(t, err)
	require.Len(t, op.Steps, 2)
	require.Equal(t, fw.ID, op.Steps[1].ResourceID)
	require.Equal(t, tre.StatusAwaitingUpdate, op.Steps[1].Status)

	sentBefore := len(f.sent.requests(t))
	f.status(op, 0, tre.StatusDeploying)
	require.Equal(t, tre.StatusPipelineRunning, f.operation(op.ID).Status)
	f.status(op, 0, tre.StatusDeployed)
	// The second step was dispatched: the firewall got its new rules first.
	reqs := f.sent.requests(t)
	require.Len(t, reqs, sentBefore+1)
	last := reqs[len(reqs)-1]
	require.Equal(t, fw.ID, last.ID)
	require.Equal(t, tre.ActionUpgrade, last.Action)
	rules := f.resource(fw.ID).Properties["rule_collections"].([]any)
	require.Equal(t, []any{map[string]any{"name": "arc_" + svc.ID, "source": ws.Properties["address_space"]}}, rules)
	require.Equal(t, rules, last.Parameters["rule_collections"])

	// Dispatching again (a redelivery) does not apply the step twice.
	require.NoError(t, f.svc.dispatch(ctx, op.ID))
	require.Len(t, f.resource(fw.ID).Properties["rule_collections"], 1)

	f.status(op, 1, tre.StatusUpdating)
	f.status(op, 1, tre.StatusUpdatingFailed)
	got := f.operation(op.ID)
	require.Equal(t, tre.StatusDeploymentFailed, got.Status)
	require.Equal(t, "Step 2 of 2 (Open egress) failed: "+fw.ID+": updating_failed", got.Message, "the real error, not 'pipeline failed on step main'")
	require.Equal(t, tre.StatusDeploymentFailed, f.resource(svc.ID).DeploymentStatus, "the root is not fully deployed")

	// Only one firewall per template.
	_, _, err = f.svc.Create(ctx, CreateRequest{Type: tre.TypeSharedService, TemplateName: "firewall",
		Properties: map[string]any{"display_name": "FW2", "description": "d"}, User: admin})
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
}

func TestUpgradeRulesAndAvailableUpgrades(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	base := schemaOf("Workspace", map[string]any{"size": map[string]any{"type": "string"}, "address_space_size": map[string]any{"type": "string"}}, nil)
	for _, v := range []string{"1.1.0", "1.2.0", "2.0.0", "0.9.0"} {
		f.register(registryKind(tre.TypeWorkspace), "ws", v, base)
	}
	// Keep 1.0.0 current for the test's sake.
	yes := true
	_, err := f.reg.UpdateVersion(ctx, registryKind(tre.TypeWorkspace), "ws", "1.0.0", registryUpdate(&yes), admin)
	require.NoError(t, err)

	ups, err := f.svc.AvailableUpgrades(ctx, f.resource(ws.ID))
	require.NoError(t, err)
	require.Equal(t, []tre.AvailableUpgrade{{Version: "1.1.0"}, {Version: "1.2.0"}, {Version: "2.0.0", ForceUpdateRequired: true}}, ups)

	patch := func(version string, force bool) error {
		r := f.resource(ws.ID)
		op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), TemplateVersion: &version, Force: force, ETag: r.ETag, IfMatch: true, User: admin})
		if err == nil {
			f.complete(op)
		}
		return err
	}
	require.Contains(t, tre.ErrorMessage(patch("2.0.0", false)), "major version upgrade is not allowed")
	require.Contains(t, tre.ErrorMessage(patch("0.9.0", false)), "version downgrade is not allowed")
	require.Contains(t, tre.ErrorMessage(patch("1.5.0", false)), "not found for resource type 'workspace'")
	require.Contains(t, tre.ErrorMessage(patch("x", false)), "Invalid version format")
	require.NoError(t, patch("1.2.0", false))
	require.Equal(t, "1.2.0", f.resource(ws.ID).TemplateVersion)
	require.NoError(t, patch("2.0.0", true))
	require.Equal(t, "2.0.0", f.resource(ws.ID).TemplateVersion)
}

func TestInvokeAction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws, op := f.createWorkspace(nil)
	_, err := f.svc.InvokeAction(ctx, WorkspaceRef(ws.ID), "restart", admin)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err), "not deployed yet")
	f.complete(op)
	_, err = f.svc.InvokeAction(ctx, WorkspaceRef(ws.ID), "explode", admin)
	require.Equal(t, "The specified custom action isn't defined in the targeted resource.", tre.ErrorMessage(err))
	act, err := f.svc.InvokeAction(ctx, WorkspaceRef(ws.ID), "restart", admin)
	require.NoError(t, err)
	require.Equal(t, tre.StatusAwaitingAction, act.Status)
	require.Equal(t, "restart", act.Steps[0].ResourceAction)
	require.Equal(t, tre.StatusActionSucceeded, f.complete(act).Status)
	require.Equal(t, tre.StatusActionSucceeded, f.resource(ws.ID).DeploymentStatus)
	require.True(t, f.resource(ws.ID).Installed())
}

func TestConcurrentWorkspaceCreationsGetDistinctAddressSpaces(t *testing.T) {
	f := newFixture(t)
	const n = 50
	var wg sync.WaitGroup
	spaces := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := []string{"small", "medium", "small", "large"}[i%4]
			r, _, err := f.svc.Create(context.Background(), CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: admin,
				Properties: map[string]any{"display_name": "W", "description": "d", "address_space_size": size}})
			errs[i] = err
			if err == nil {
				spaces[i] = r.Properties["address_space"].(string)
			}
		}()
	}
	wg.Wait()
	var prefixes []netip.Prefix
	for i, err := range errs {
		require.NoError(t, err)
		p := netip.MustParsePrefix(spaces[i])
		require.False(t, p.Overlaps(f.svc.cfg.CoreAddressSpace), "%s overlaps the core", p)
		for _, q := range prefixes {
			require.False(t, p.Overlaps(q), "%s overlaps %s", p, q)
		}
		prefixes = append(prefixes, p)
	}
	require.Len(t, prefixes, n)
}

func TestCustomAddressSpace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	create := func(space string) error {
		_, _, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: admin,
			Properties: map[string]any{"display_name": "W", "description": "d", "address_space_size": "custom", "address_space": space}})
		return err
	}
	require.NoError(t, create("10.2.0.0/24"))
	require.Equal(t, tre.CodeUnprocessable, tre.ErrorCode(create("10.2.0.0/24")), "taken")
	require.Equal(t, tre.CodeUnprocessable, tre.ErrorCode(create("10.1.0.0/24")), "the core's")
	require.Equal(t, tre.CodeUnprocessable, tre.ErrorCode(create("192.168.0.0/24")), "outside the TRE")
	require.Equal(t, tre.CodeUnprocessable, tre.ErrorCode(create("10.2.1.5/24")), "not a network address")
	_, _, err := f.svc.Create(ctx, CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: admin,
		Properties: map[string]any{"display_name": "W", "description": "d", "address_space_size": "custom"}})
	require.Equal(t, "Missing 'address_space' from properties.", tre.ErrorMessage(err))
}

func TestDispatchFailureIsRedelivered(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.sent.fail = errors.New("queue down")
	_, op := f.createWorkspace(nil)
	require.Zero(t, f.operation(op.ID).Steps[0].DispatchedWhen, "not marked dispatched when the send failed")
	f.sent.fail = nil
	n, err := f.svc.redeliverDue(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "too early")
	f.clock.advance(f.svc.cfg.RedispatchAfter)
	n, err = f.svc.redeliverDue(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NotZero(t, f.operation(op.ID).Steps[0].DispatchedWhen)
	require.Len(t, f.sent.requests(t), 1)
	n, err = f.svc.redeliverDue(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestDeletedResourceKeepsItsRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.deployedWorkspace()
	off := false
	op, err := f.svc.Patch(ctx, PatchRequest{Ref: WorkspaceRef(ws.ID), IsEnabled: &off, ETag: f.resource(ws.ID).ETag, IfMatch: true, User: admin})
	require.NoError(t, err)
	f.complete(op)
	del, err := f.svc.Delete(ctx, WorkspaceRef(ws.ID), admin)
	require.NoError(t, err)
	f.complete(del)
	_, err = f.svc.Get(ctx, WorkspaceRef(ws.ID))
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err))
	r, err := f.svc.GetForRecords(ctx, WorkspaceRef(ws.ID))
	require.NoError(t, err)
	got, err := f.svc.Operation(ctx, r, del.ID)
	require.NoError(t, err)
	require.Equal(t, tre.StatusDeleted, got.Status, "the outcome of the deletion can be read after it")
}
