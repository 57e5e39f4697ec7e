package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/catalog"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
	"github.com/tre-go/tre/internal/upgrade"
)

// world is what the access test's fixture holds: ids and etags.
type world struct {
	ws, svc, urOwn, urOther, ss                     string
	wsOp, svcOp, urOwnOp, urOtherOp, ssOp           string
	wsETag, svcETag, urOwnETag, urOtherETag, ssETag string
	// The latest operation of each resource: a custom action, running in
	// the "running" world and failed in the "failed" one.
	wsAct, svcAct, urOwnAct, urOtherAct, ssAct string
	// Sequence numbers of two dead-lettered status messages.
	dlReplay, dlDiscard string
	// Airlock requests: a draft, one in review, one approved.
	arDraft, arReview, arApproved string
	// Bulk upgrades: one running, one paused, one completed.
	upRunning, upPaused, upDone string
}

// Worlds the access cases run in.
const (
	worldEnabled  = ""
	worldDisabled = "disabled"
	worldRunning  = "running"
	worldFailed   = "failed"
)

var (
	adminUser      = tre.User{ID: auth.DevUserID("admin"), Name: "admin", Roles: []string{"TREAdmin"}}
	ownerUser      = tre.User{ID: auth.DevUserID("owner"), Name: "owner", Roles: []string{"TREUser"}}
	researcherUser = tre.User{ID: auth.DevUserID("researcher"), Name: "researcher", Roles: []string{"TREUser"}}
	airlockUser    = tre.User{ID: auth.DevUserID("airlock"), Name: "airlock", Roles: []string{"TREUser"}}
)

func minimal(title string) map[string]any {
	return map[string]any{"title": title, "description": title, "type": "object", "properties": map[string]any{}}
}

// buildWorld makes a deployed workspace with a service, a user resource of
// the researcher and one of the owner, and a shared service. Then, by
// mode: everything disabled (so it can be deleted); a custom action
// running on each resource; or that action failed. The extra functions add
// to the world before its etags are read.
func buildWorld(t testing.TB, mode string, extra ...func(*env, *world)) (string, world) {
	t.Helper()
	dir := t.TempDir()
	e := openEnv(t, dir)
	ctx := context.Background()
	restart := []tre.CustomAction{{Name: "restart"}}
	for _, r := range []struct {
		k    registry.Kind
		name string
	}{
		{registry.Kind{Type: tre.TypeWorkspace}, "ws"}, {registry.Kind{Type: tre.TypeWorkspaceService}, "svc"},
		{registry.Kind{Type: tre.TypeUserResource, Parent: "svc"}, "vm"}, {registry.Kind{Type: tre.TypeSharedService}, "fw"},
		{registry.Kind{Type: tre.TypeSharedService}, "certs"},
		// Unused: they can be unregistered.
		{registry.Kind{Type: tre.TypeWorkspace}, "spare"}, {registry.Kind{Type: tre.TypeWorkspaceService}, "spare-svc"},
		{registry.Kind{Type: tre.TypeUserResource, Parent: "svc"}, "spare-vm"}, {registry.Kind{Type: tre.TypeSharedService}, "spare-fw"},
	} {
		_, err := e.reg.Register(ctx, r.k, registry.Registration{Name: r.name, Version: "1.0.0", Current: true, JSONSchema: minimal(r.name), CustomActions: restart}, adminUser)
		require.NoError(t, err)
	}
	props := map[string]any{"display_name": "x", "description": "y"}
	create := func(req lifecycle.CreateRequest) (string, string) {
		req.Properties = props
		r, op, err := e.svc.Create(ctx, req)
		require.NoError(t, err)
		e.complete(op)
		return r.ID, op.ID
	}
	var w world
	// The workspace's creator is its owner (workspace_owner_object_id, as in
	// AzureTRE): created in the owner's name, so that the TREAdmin column
	// is an admin without a workspace role.
	w.ws, w.wsOp = create(lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: ownerUser})
	require.NoError(t, e.roles.Assign(ctx, w.ws, "WorkspaceResearcher", []string{researcherUser.ID}, adminUser))
	require.NoError(t, e.roles.Assign(ctx, w.ws, "AirlockManager", []string{auth.DevUserID("airlock")}, adminUser))
	w.svc, w.svcOp = create(lifecycle.CreateRequest{Type: tre.TypeWorkspaceService, WorkspaceID: w.ws, TemplateName: "svc", User: ownerUser})
	w.urOwn, w.urOwnOp = create(lifecycle.CreateRequest{Type: tre.TypeUserResource, WorkspaceID: w.ws, ServiceID: w.svc, TemplateName: "vm", User: researcherUser})
	w.urOther, w.urOtherOp = create(lifecycle.CreateRequest{Type: tre.TypeUserResource, WorkspaceID: w.ws, ServiceID: w.svc, TemplateName: "vm", User: ownerUser})
	w.ss, w.ssOp = create(lifecycle.CreateRequest{Type: tre.TypeSharedService, TemplateName: "fw", User: adminUser})
	if mode == worldDisabled {
		// A catalogue to remove.
		_, err := catalog.New(e.store, catalog.Options{Log: slog.New(slog.DiscardHandler)}).Put(ctx, w.ws, []catalog.Entry{{ResourceType: tre.TypeWorkspaceService, Name: "svc"}}, adminUser)
		require.NoError(t, err)
		off := false
		for _, ref := range []lifecycle.Ref{lifecycle.WorkspaceRef(w.ws), {Type: tre.TypeSharedService, ID: w.ss}} {
			r, err := e.svc.Get(ctx, ref)
			require.NoError(t, err)
			op, err := e.svc.Patch(ctx, lifecycle.PatchRequest{Ref: ref, IsEnabled: &off, ETag: r.ETag, IfMatch: true, User: adminUser})
			require.NoError(t, err)
			e.complete(op)
		}
	}
	etag := func(id string) string {
		r, err := tre.GetAs[tre.Resource](ctx, e.store, tre.Resources, id)
		require.NoError(t, err)
		return r.ETag
	}
	if mode == worldRunning || mode == worldFailed {
		refs := []lifecycle.Ref{lifecycle.WorkspaceRef(w.ws), {Type: tre.TypeWorkspaceService, WorkspaceID: w.ws, ID: w.svc},
			{Type: tre.TypeUserResource, WorkspaceID: w.ws, ServiceID: w.svc, ID: w.urOwn},
			{Type: tre.TypeUserResource, WorkspaceID: w.ws, ServiceID: w.svc, ID: w.urOther}, {Type: tre.TypeSharedService, ID: w.ss}}
		ids := []*string{&w.wsAct, &w.svcAct, &w.urOwnAct, &w.urOtherAct, &w.ssAct}
		for i, ref := range refs {
			op, err := e.svc.InvokeAction(ctx, ref, "restart", adminUser)
			require.NoError(t, err)
			*ids[i] = op.ID
			st := op.Steps[0]
			status := tre.StatusInvokingAction
			if mode == worldFailed {
				status = tre.StatusActionFailed
			}
			_, err = e.svc.ApplyStatus(ctx, tre.StatusUpdate{OperationID: op.ID, StepID: st.ID, ID: st.ResourceID, Attempt: 1, Status: status})
			require.NoError(t, err)
		}
	}
	if mode == worldEnabled {
		// Two status messages dead-lettered, for the dead-letter routes.
		for _, id := range []string{"dl-1", "dl-2"} {
			require.NoError(t, e.queue.Send(ctx, tre.QueueStatus, tre.Message{MessageID: id, SessionID: "op-x", Body: []byte(`{"operationId":"op-x"}`)}))
		}
		sess, err := e.queue.AcceptNextSession(ctx, tre.QueueStatus)
		require.NoError(t, err)
		msgs, err := sess.Receive(ctx, 2)
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		for _, m := range msgs {
			require.NoError(t, sess.DeadLetter(ctx, m, "Test", "dead-lettered by the test"))
		}
		require.NoError(t, sess.Close(ctx))
		w.dlReplay, w.dlDiscard = fmt.Sprint(msgs[0].SequenceNumber), fmt.Sprint(msgs[1].SequenceNumber)
		w.arDraft, w.arReview, w.arApproved = airlockRequests(t, e, w.ws)
	}
	if mode == worldEnabled {
		w.upRunning, w.upPaused, w.upDone = addBatches(t, e, w)
	}
	for _, f := range extra {
		f(e, &w)
	}
	w.wsETag, w.svcETag, w.urOwnETag, w.urOtherETag, w.ssETag = etag(w.ws), etag(w.svc), etag(w.urOwn), etag(w.urOther), etag(w.ss)
	// With the firewall service's Run stopped, the world's firewall is the
	// reconcile of this test: the same in every world.
	e.stopFW()
	_, err := e.fw.PutManualRules(ctx, "ntp-rules", ntpRules(), adminUser)
	require.NoError(t, err)
	e.reconcile()
	e.close()
	return dir, w
}

// Roles of the table: TRE admin, TRE user, the workspace's owner,
// researcher and airlock manager (all TREUsers), and no token.
var roleNames = []string{"A", "U", "O", "R", "M", "-"}

type accessCase struct {
	method, path, body string
	etag               string // sent as If-Match
	world              string // the world it runs in (worldEnabled if empty)
	want               string // e.g. "A:200 U:403 O:200 R:200 M:200 -:401"
	// shapeAs is the role whose answer the shapes test records (default:
	// the first role the route admits), for routes whose answer is empty
	// for that one.
	shapeAs string
}

func expectations(s string) map[string]int {
	out := map[string]int{}
	for _, f := range strings.Fields(s) {
		var role string
		var code int
		_, err := fmt.Sscanf(strings.Replace(f, ":", " ", 1), "%s %d", &role, &code)
		if err != nil {
			panic(f)
		}
		out[role] = code
	}
	return out
}

func accessCases(w world) []accessCase {
	ws := "/api/workspaces/" + w.ws
	svc := ws + "/workspace-services/" + w.svc
	own := svc + "/user-resources/" + w.urOwn
	other := svc + "/user-resources/" + w.urOther
	ss := "/api/shared-services/" + w.ss
	tmpl := func(name string) string {
		return fmt.Sprintf(`{"name":%q,"version":"2.0.0","json_schema":{"title":"t","description":"d","type":"object"}}`, name)
	}
	const (
		all        = "A:200 U:200 O:200 R:200 M:200 -:200"
		tokens     = "A:200 U:200 O:200 R:200 M:200 -:401"
		admin200   = "A:200 U:403 O:403 R:403 M:403 -:401"
		admin201   = "A:201 U:403 O:403 R:403 M:403 -:401"
		admin202   = "A:202 U:403 O:403 R:403 M:403 -:401"
		wsAll      = "A:200 U:403 O:200 R:200 M:200 -:401"
		ownAdmin   = "A:200 U:403 O:200 R:403 M:403 -:401"
		members    = "A:403 U:403 O:200 R:200 M:200 -:401"
		owner202   = "A:403 U:403 O:202 R:403 M:403 -:401"
		owner200   = "A:403 U:403 O:200 R:403 M:403 -:401"
		ownerAM    = "A:403 U:403 O:200 R:403 M:200 -:401"
		mine200    = "A:403 U:403 O:200 R:200 M:403 -:401"
		mine202    = "A:403 U:403 O:202 R:202 M:403 -:401"
		manager200 = "A:403 U:403 O:403 R:403 M:200 -:401"
	)
	patch := `{"properties":{"display_name":"changed"}}`
	cases := []accessCase{
		{method: "GET", path: "/", want: all},
		{method: "GET", path: "/api/ping", want: all},
		{method: "GET", path: "/api/", want: all},
		{method: "GET", path: "/api/health", want: all},
		{method: "GET", path: "/api/.metadata", want: all},
		{method: "GET", path: "/api/openapi.json", want: all},
		{method: "GET", path: "/api/operations", want: tokens},

		{method: "GET", path: "/api/workspace-templates", want: admin200},
		{method: "POST", path: "/api/workspace-templates", body: tmpl("new-ws"), want: admin201},
		{method: "GET", path: "/api/workspace-templates/ws", want: admin200},
		{method: "GET", path: "/api/workspace-templates/ws/versions", want: admin200},
		{method: "PATCH", path: "/api/workspace-templates/ws/versions/1.0.0", body: `{"current":true}`, want: admin200},
		{method: "DELETE", path: "/api/workspace-templates/spare/versions/1.0.0", want: admin200},
	}
	for _, base := range []string{"/api/workspace-service-templates", "/api/workspace-service-templates/svc/user-resource-templates", "/api/shared-service-templates"} {
		name := map[string]string{"/api/workspace-service-templates": "svc", "/api/shared-service-templates": "fw"}[base]
		if name == "" {
			name = "vm"
		}
		cases = append(cases,
			accessCase{method: "GET", path: base, want: tokens},
			accessCase{method: "POST", path: base, body: tmpl("new-" + name), want: admin201},
			accessCase{method: "GET", path: base + "/" + name, want: tokens},
			accessCase{method: "GET", path: base + "/" + name + "/versions", want: tokens},
			accessCase{method: "PATCH", path: base + "/" + name + "/versions/1.0.0", body: `{"current":true}`, want: admin200},
			accessCase{method: "DELETE", path: base + "/spare-" + name + "/versions/1.0.0", want: admin200},
		)
	}
	cases = append(cases,
		// Workspaces: admins manage them; members read them; owners see operations and history.
		accessCase{method: "GET", path: "/api/workspaces", want: tokens},
		accessCase{method: "POST", path: "/api/workspaces", body: `{"templateName":"ws","properties":{"display_name":"n","description":"d"}}`, want: "A:202 U:403 O:403 R:403 M:403 -:401"},
		accessCase{method: "GET", path: ws, want: wsAll},
		accessCase{method: "PATCH", path: ws, body: patch, etag: w.wsETag, want: admin202},
		accessCase{method: "DELETE", path: ws, world: worldDisabled, want: admin200},
		accessCase{method: "POST", path: ws + "/invoke-action?action=restart", want: admin202},
		accessCase{method: "GET", path: ws + "/operations", want: ownAdmin},
		accessCase{method: "GET", path: ws + "/operations/" + w.wsOp, want: ownAdmin},
		accessCase{method: "GET", path: ws + "/history", want: ownAdmin},
		accessCase{method: "GET", path: ws + "/scopeid", want: tokens},
		accessCase{method: "GET", path: ws + "/workspace-service-templates", want: wsAll},
		accessCase{method: "GET", path: ws + "/workspace-service-templates/svc/user-resource-templates", want: wsAll},
		accessCase{method: "GET", path: ws + "/users", want: wsAll},
		accessCase{method: "GET", path: ws + "/roles", want: admin200},
		accessCase{method: "POST", path: ws + "/users/assign", body: `{"role_id":"WorkspaceResearcher","user_ids":["someone"]}`, want: admin202},
		accessCase{method: "DELETE", path: ws + "/users/assign?user_id=" + researcherUser.ID + "&role_id=WorkspaceResearcher", want: admin202},
		// An unknown workspace is 404 for TRE admins and 403 for the others, as
		// one they have no role in is (no existence oracle); an operation of
		// another resource is 404.
		accessCase{method: "GET", path: "/api/workspaces/00000000-0000-4000-8000-000000000000", want: "A:404 U:403 O:403 R:403 M:403 -:401"},
		accessCase{method: "GET", path: ws + "/operations/" + w.svcOp, want: "A:404 U:403 O:404 R:403 M:403 -:401"},

		// Workspace services: members, and owners for changes (TRE admins are not members).
		accessCase{method: "GET", path: ws + "/workspace-services", want: members},
		accessCase{method: "POST", path: ws + "/workspace-services", body: `{"templateName":"svc","properties":{"display_name":"n","description":"d"}}`, want: owner202},
		accessCase{method: "GET", path: svc, want: members},
		accessCase{method: "PATCH", path: svc, body: patch, etag: w.svcETag, want: owner202},
		accessCase{method: "DELETE", path: svc, world: worldDisabled, want: owner200},
		accessCase{method: "POST", path: svc + "/invoke-action?action=restart", want: owner202},
		accessCase{method: "GET", path: svc + "/operations", want: ownerAM},
		accessCase{method: "GET", path: svc + "/operations/" + w.svcOp, want: ownerAM},
		accessCase{method: "GET", path: svc + "/history", want: ownerAM},

		// User resources: members create; researchers see and change only their own.
		accessCase{method: "GET", path: svc + "/user-resources", want: members},
		accessCase{method: "POST", path: svc + "/user-resources", body: `{"templateName":"vm","properties":{"display_name":"n","description":"d"}}`, want: "A:403 U:403 O:202 R:202 M:202 -:401"},
		accessCase{method: "GET", path: own, want: mine200},
		accessCase{method: "GET", path: other, want: owner200},
		accessCase{method: "PATCH", path: own, body: patch, etag: w.urOwnETag, want: mine202},
		accessCase{method: "PATCH", path: other, body: patch, etag: w.urOtherETag, want: owner202},
		accessCase{method: "DELETE", path: own, world: worldDisabled, want: mine200},
		accessCase{method: "DELETE", path: other, world: worldDisabled, want: owner200},
		accessCase{method: "POST", path: own + "/invoke-action?action=restart", want: mine202},
		accessCase{method: "POST", path: other + "/invoke-action?action=restart", want: owner202},
		accessCase{method: "GET", path: own + "/operations", want: mine200},
		accessCase{method: "GET", path: own + "/operations/" + w.urOwnOp, want: mine200},
		accessCase{method: "GET", path: own + "/history", want: mine200},
		accessCase{method: "GET", path: other + "/operations", want: owner200},
		accessCase{method: "GET", path: other + "/history", want: owner200},

		// Shared services: every user reads (a restricted view), admins manage.
		accessCase{method: "GET", path: "/api/shared-services", want: tokens},
		accessCase{method: "POST", path: "/api/shared-services", body: `{"templateName":"certs","properties":{"display_name":"n","description":"d"}}`, want: admin202},
		accessCase{method: "GET", path: ss, want: tokens},
		accessCase{method: "PATCH", path: ss, body: patch, etag: w.ssETag, want: admin202},
		accessCase{method: "DELETE", path: ss, world: worldDisabled, want: admin200},
		accessCase{method: "POST", path: ss + "/invoke-action?action=restart", want: admin202},
		accessCase{method: "GET", path: ss + "/operations", want: admin200},
		accessCase{method: "GET", path: ss + "/operations/" + w.ssOp, want: admin200},
		accessCase{method: "GET", path: ss + "/history", want: admin200},

		// Operation control: retry and cancel for who may act on the
		// resource, and TRE admins; force-fail for TRE admins; events for
		// who may read the operations.
		accessCase{method: "POST", path: ws + "/operations/" + w.wsAct + "/retry", world: worldFailed, want: admin202},
		accessCase{method: "POST", path: svc + "/operations/" + w.svcAct + "/retry", world: worldFailed, want: "A:202 U:403 O:202 R:403 M:403 -:401"},
		accessCase{method: "POST", path: own + "/operations/" + w.urOwnAct + "/retry", world: worldFailed, want: "A:202 U:403 O:202 R:202 M:403 -:401"},
		accessCase{method: "POST", path: other + "/operations/" + w.urOtherAct + "/retry", world: worldFailed, want: "A:202 U:403 O:202 R:403 M:403 -:401"},
		accessCase{method: "POST", path: ss + "/operations/" + w.ssAct + "/retry", world: worldFailed, want: admin202},
		accessCase{method: "POST", path: ws + "/operations/" + w.wsAct + "/cancel", world: worldRunning, want: admin202},
		accessCase{method: "POST", path: svc + "/operations/" + w.svcAct + "/cancel", world: worldRunning, want: "A:202 U:403 O:202 R:403 M:403 -:401"},
		accessCase{method: "POST", path: own + "/operations/" + w.urOwnAct + "/cancel", world: worldRunning, want: "A:202 U:403 O:202 R:202 M:403 -:401"},
		accessCase{method: "POST", path: ss + "/operations/" + w.ssAct + "/cancel", world: worldRunning, want: admin202},
		accessCase{method: "POST", path: ws + "/operations/" + w.wsAct + "/fail", body: `{"reason":"known broken"}`, world: worldRunning, want: admin200},
		accessCase{method: "POST", path: svc + "/operations/" + w.svcAct + "/fail", body: `{"reason":"known broken"}`, world: worldRunning, want: admin200},
		accessCase{method: "POST", path: own + "/operations/" + w.urOwnAct + "/fail", body: `{"reason":"known broken"}`, world: worldRunning, want: admin200},
		accessCase{method: "POST", path: ss + "/operations/" + w.ssAct + "/fail", body: `{"reason":"known broken"}`, world: worldRunning, want: admin200},
		accessCase{method: "GET", path: ws + "/operations/" + w.wsOp + "/events", want: ownAdmin},
		accessCase{method: "GET", path: svc + "/operations/" + w.svcOp + "/events", want: ownerAM},
		accessCase{method: "GET", path: own + "/operations/" + w.urOwnOp + "/events", want: mine200},
		accessCase{method: "GET", path: ss + "/operations/" + w.ssOp + "/events", want: admin200},

		accessCase{method: "GET", path: "/api/admin/dead-letters", want: admin200},
		accessCase{method: "POST", path: "/api/admin/dead-letters/deploymentstatus/" + w.dlReplay + "/replay", want: admin202},
		accessCase{method: "DELETE", path: "/api/admin/dead-letters/deploymentstatus/" + w.dlDiscard, want: admin200},

		// Airlock: owners and researchers make and submit requests, airlock
		// managers review them, every member reads them; a link is the
		// researchers' and owners' (the managers' in review). TRE admins are
		// not members. Review VMs are not implemented.
		accessCase{method: "POST", path: ws + "/requests", body: `{"type":"import","businessJustification":"b"}`, want: "A:403 U:403 O:201 R:201 M:403 -:401"},
		accessCase{method: "GET", path: ws + "/requests", want: members},
		accessCase{method: "GET", path: ws + "/requests/" + w.arDraft, want: members},
		accessCase{method: "POST", path: ws + "/requests/" + w.arDraft + "/submit", want: mine200},
		accessCase{method: "POST", path: ws + "/requests/" + w.arDraft + "/cancel", want: mine200},
		accessCase{method: "POST", path: ws + "/requests/" + w.arReview + "/review", body: `{"approval":true,"decisionExplanation":"ok"}`, want: manager200},
		accessCase{method: "POST", path: ws + "/requests/" + w.arApproved + "/revoke", body: `{"reason":"in error"}`, want: manager200},
		accessCase{method: "POST", path: ws + "/requests/" + w.arReview + "/review-user-resource", want: "A:403 U:403 O:403 R:403 M:501 -:401"},
		accessCase{method: "GET", path: ws + "/requests/" + w.arDraft + "/link", want: mine200},
		accessCase{method: "GET", path: ws + "/requests/" + w.arReview + "/link", want: ownerAM},
		accessCase{method: "GET", path: "/api/requests", want: tokens, shapeAs: "R"},
		accessCase{method: "GET", path: "/api/requests?airlock_manager=true", want: tokens},

		accessCase{method: "GET", path: "/api/firewall", want: admin200},
		accessCase{method: "POST", path: "/api/firewall/reconcile", want: admin200},
		accessCase{method: "GET", path: "/api/firewall/manual-rules", want: admin200},
		accessCase{method: "GET", path: "/api/firewall/manual-rules/ntp-rules", want: admin200},
		accessCase{method: "PUT", path: "/api/firewall/manual-rules/more-rules", body: ntpRulesJSON, want: admin200},
		accessCase{method: "DELETE", path: "/api/firewall/manual-rules/ntp-rules", want: admin200},

		accessCase{method: "GET", path: "/api/costs", want: admin200},
		accessCase{method: "GET", path: ws + "/costs?granularity=Daily", want: ownAdmin},
		accessCase{method: "GET", path: "/api/audit?action=create", want: admin200},
		accessCase{method: "POST", path: "/api/upgrades", body: `{"templateName":"ws","toVersion":"1.0.1"}`, want: admin200},
		accessCase{method: "GET", path: "/api/upgrades", want: admin200},
		accessCase{method: "GET", path: "/api/upgrades/" + w.upRunning, want: admin200},
		accessCase{method: "POST", path: "/api/upgrades/" + w.upRunning + "/pause", want: admin200},
		accessCase{method: "POST", path: "/api/upgrades/" + w.upPaused + "/resume", want: admin200},
		accessCase{method: "POST", path: "/api/upgrades/" + w.upRunning + "/cancel", want: admin200},
		accessCase{method: "GET", path: "/api/upgrades/" + w.upDone + "/events", want: admin200},
		accessCase{method: "GET", path: ws + "/audit?limit=5", want: ownAdmin},
		accessCase{method: "GET", path: ws + "/allowed-templates", want: wsAll},
		accessCase{method: "PUT", path: ws + "/allowed-templates", body: `{"templates":[{"resourceType":"workspace-service","name":"svc","versions":[">=1.0.0"]}]}`, want: ownAdmin},
		accessCase{method: "DELETE", path: ws + "/allowed-templates", world: worldDisabled, want: ownAdmin},
	)
	return cases
}

func TestEveryRouteByRole(t *testing.T) {
	// The ids differ between worlds; each case takes its own world's.
	dirs := map[string]string{}
	byKey := map[string]accessCase{}
	for _, mode := range []string{worldEnabled, worldDisabled, worldRunning, worldFailed} {
		dir, w := buildWorld(t, mode)
		dirs[mode] = dir
		for _, c := range accessCases(w) {
			if c.world == mode {
				byKey[c.method+" "+named(c.path, w)] = c
			}
		}
	}
	probe := openEnv(t, t.TempDir())
	covered := map[string]bool{}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		c := byKey[key]
		want := expectations(c.want)
		require.Len(t, want, len(roleNames), "case %s lists every role", key)
		for _, role := range roleNames {
			t.Run(key+"/"+role, func(t *testing.T) {
				e := openEnv(t, copyDir(t, dirs[c.world]))
				token := ""
				switch role {
				case "A":
					token = e.token("admin", "TREAdmin")
				case "U":
					token = e.token("user", "TREUser")
				case "O":
					token = e.token("owner", "TREUser")
				case "R":
					token = e.token("researcher", "TREUser")
				case "M":
					token = e.token("airlock", "TREUser")
				}
				var headers []string
				if c.etag != "" {
					headers = []string{"If-Match", `"` + c.etag + `"`}
				}
				status, body, _ := e.do(c.method, c.path, token, c.body, headers...)
				require.Equal(t, want[role], status, "%s as %s: %s", key, role, body)
			})
		}
		covered[c.method+" "+probe.patternOf(c.method, c.path)] = true
	}
	// Every API route of the table is covered by at least one case.
	for _, rt := range probe.api.Routes() {
		if !rt.Trigger {
			require.True(t, covered[rt.Method+" "+rt.Pattern], "route %s %s has no access case", rt.Method, rt.Pattern)
		}
	}
}

// named replaces a world's ids in a path by names, so that cases of the
// two worlds have stable names.
func named(path string, w world) string {
	pairs := []string{w.ws, "{ws}", w.svc, "{svc}", w.urOwn, "{own}", w.urOther, "{other}", w.ss, "{ss}",
		w.wsOp, "{ws-op}", w.svcOp, "{svc-op}", w.urOwnOp, "{own-op}", w.urOtherOp, "{other-op}", w.ssOp, "{ss-op}"}
	for _, p := range [][2]string{{w.wsAct, "{ws-act}"}, {w.svcAct, "{svc-act}"}, {w.urOwnAct, "{own-act}"}, {w.urOtherAct, "{other-act}"},
		{w.ssAct, "{ss-act}"}, {w.dlReplay, "{dl-replay}"}, {w.dlDiscard, "{dl-discard}"},
		{w.arDraft, "{ar-draft}"}, {w.arReview, "{ar-review}"}, {w.arApproved, "{ar-approved}"},
		{w.upRunning, "{up-running}"}, {w.upPaused, "{up-paused}"}, {w.upDone, "{up-done}"}} {
		if p[0] != "" {
			pairs = append(pairs, p[0], p[1])
		}
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace(path)
}

// addBatches stores two bulk upgrades of the world's workspace: one
// running (its upgrade not started yet), one paused, one completed.
func addBatches(t testing.TB, e *env, w world) (running, paused, done string) {
	t.Helper()
	ctx := context.Background()
	ids := []string{"0b0b0b0b-0000-4000-8000-000000000001", "0b0b0b0b-0000-4000-8000-000000000002", "0b0b0b0b-0000-4000-8000-000000000003"}
	for i, status := range []string{upgrade.BatchRunning, upgrade.BatchPaused, upgrade.BatchCompleted} {
		b := upgrade.Batch{ID: ids[i], Status: status, Active: status != upgrade.BatchCompleted, CreatedBy: adminUser, CreatedWhen: 1, UpdatedWhen: 1,
			Request: upgrade.Request{TemplateName: "ws", ToVersion: "1.0.1", MaxConcurrent: 5, StopAfterFailures: 3},
			Items: []upgrade.Item{{ResourceID: w.ws, ResourcePath: "/workspaces/" + w.ws, ResourceType: tre.TypeWorkspace, WorkspaceID: w.ws,
				FromVersion: "1.0.0", ToVersion: "1.0.1", Action: upgrade.ActionUpgrade, Depth: 2, Status: upgrade.ItemPending}},
			Counts: upgrade.Counts{Pending: 1}}
		_, err := tre.CreateAs(ctx, e.store, tre.UpgradeBatches, b.ID, b)
		require.NoError(t, err)
	}
	return ids[0], ids[1], ids[2]
}
