package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// internalFields are the fields of stored documents that are the control
// plane's own bookkeeping: no answer of any route may carry one. Every
// JSON field of a stored document is either in some answer or listed here
// (the test checks both ways), so a new stored field needs a decision. What
// an internal field holds (the resource changes of an intent record, say)
// is internal with it.
var internalFields = map[string]string{
	"secretRefs":       "tre.Resource: where the secret store keeps sensitive values",
	"lastOperationId":  "tre.Resource: the operation that wrote this version (intent record)",
	"pipelineEgress":   "tre.Resource: firewall rules its pipeline sent to the firewall shared service (GET /api/firewall shows them)",
	"lastStepId":       "tre.Resource: the pipeline step that wrote this version",
	"pending":          "tre.Operation: its intent record is not complete",
	"changes":          "tre.Operation: the resource writes of its intent record",
	"assignedWhen":     "assignment: when a role was assigned",
	"assignedBy":       "assignment: who assigned it",
	"userId":           "assignment: the assignee (answers list users by id)",
	"role":             "assignment: the role (answers list roles)",
	"lastSeen":         "roster.Agent: when the agent's heartbeat came",
	"sentAt":           "roster.Agent: when the agent sent it",
	"workers":          "roster.Agent",
	"healthy":          "roster.Agent",
	"rejectedWhen":     "deadletter.RejectedMessage (answers say deadLetteredAt)",
	"entries":          "lifecycle: the allocations of an address-space block",
	"block":            "lifecycle: an address-space block's range",
	"currentVersion":   "registry: the pointer to a template's current version",
	"schema":           "tre.Template: the schema as registered (answers show it enriched)",
	"failuresAtResume": "upgrade.Batch: the failed count when it was last resumed",
	"depth":            "upgrade.Item: how deep its resource is (answers are ordered by it)",
	"stage":            "tre.AirlockRequest: the airlock processor's progress on the current status",
	"unsent":           "tre.AirlockRequest: status changes whose messages are still to be sent",
	"sending":          "tre.AirlockRequest: unsent is not empty (the sweep's query)",
}

// internalAt are stored fields whose names answers use elsewhere for
// public fields (a step's kind, a template's id): they are internal at
// these key paths of the answers of these routes.
var internalAt = map[string][]string{
	" /api/firewall": {".id", ".kind", ".manualRules[].id", ".manualRules[].kind"},
}

// addLeaks gives the world every kind of bookkeeping the store keeps, on
// data the routes read: a resource with secret references and the last
// pipeline step, an operation of the admin left pending by a crash, a
// refused status message, an agent's heartbeat, a template's
// current-version pointer. dir receives the world's directory.
func addLeaks(dir *string) func(*env, *world) {
	return func(e *env, w *world) {
		t := e.t
		*dir = e.dir
		ctx := context.Background()
		r, err := tre.GetAs[tre.Resource](ctx, e.store, tre.Resources, w.ws)
		require.NoError(t, err)
		r.SecretRefs, r.LastStepID = map[string]string{"/client_secret": "r-secret"}, "5a1e7c47-0000-4000-8000-000000000001"
		r.PipelineEgress = map[string]any{"network_rule_collections": []any{map[string]any{"name": "nrc_leak", "rules": []any{}}}}
		_, err = tre.ReplaceAs(ctx, e.store, tre.Resources, r.ID, r.ETag, r)
		require.NoError(t, err)

		// Of a workspace being created when the process died: the admin's
		// operations in progress list it.
		id := "5a1e7c47-0000-4000-8000-000000000002"
		now := tre.Timestamp(time.Now())
		created := &tre.Resource{ID: id, TemplateName: "ws", ResourceType: tre.TypeWorkspace, ResourcePath: "/workspaces/" + id,
			SecretRefs: map[string]string{"/client_secret": "r-secret-2"}}
		op := &tre.Operation{ID: "5a1e7c47-0000-4000-8000-000000000003", ResourceID: id, ResourcePath: created.ResourcePath,
			Status: tre.StatusAwaitingDeployment, Action: tre.ActionInstall, User: adminUser, CreatedWhen: now, UpdatedWhen: now,
			Steps: []tre.OperationStep{{ID: "5a1e7c47-0000-4000-8000-000000000004", TemplateStepID: tre.MainStepID, ResourceID: id,
				ResourceAction: tre.ActionInstall, Status: tre.StatusAwaitingDeployment, Agent: "vm-0"}}, Pending: true, Changes: []tre.ResourceChange{{ResourceID: id, Create: created},
				{ResourceID: w.svc, ETag: "e1", Patch: &tre.ResourcePatch{DeploymentStatus: tre.StatusAwaitingUpdate},
					History: &tre.ResourceHistoryItem{ID: "h1", ResourceID: w.svc}}}}
		_, err = tre.CreateAs(ctx, e.store, tre.Operations, op.ID, op)
		require.NoError(t, err)

		require.NoError(t, e.dead.Reject(ctx, deadletter.RejectedMessage{Queue: tre.QueueStatus, MessageID: "m-refused", SessionID: op.ID,
			Reason: "status message for unknown step", OperationID: op.ID, Body: `{"operationId":"` + op.ID + `","stepId":"x","id":"` + id + `"}`}))
		require.NoError(t, e.agents.Record(ctx, tre.AgentHeartbeat{Agent: "vm-0", Workers: 2, Healthy: true, SentAt: now}))
		// An airlock request in review whose processor's progress is recorded
		// and whose last change's messages are not sent yet.
		ar, err := tre.GetAs[tre.AirlockRequest](ctx, e.store, tre.AirlockRequests, w.arReview)
		require.NoError(t, err)
		ar.Stage = &tre.AirlockStage{Status: ar.Status, Copied: true, Files: ar.Files, CopiedWhen: now, SourceDeleted: true}
		ar.Unsent, ar.Sending = []tre.AirlockChange{{Version: ar.ResourceVersion, Previous: tre.AirlockSubmitted, Status: ar.Status, When: now}}, true
		_, err = tre.ReplaceAs(ctx, e.store, tre.AirlockRequests, ar.ID, ar.ETag, ar)
		require.NoError(t, err)
		yes := true
		_, err = e.reg.UpdateVersion(ctx, registry.Kind{Type: tre.TypeWorkspace}, "ws", "1.0.0", registry.Update{Current: &yes}, adminUser)
		require.NoError(t, err)
	}
}

// walkKeys calls fn with the path and name of every key of v, except
// inside "properties" (users' and templates' own names) and inside the
// internal fields (secret references are keyed by property).
func walkKeys(v any, path string, fn func(path, key string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(path+"."+k, k)
			if _, internal := internalFields[k]; k != "properties" && !internal {
				walkKeys(e, path+"."+k, fn)
			}
		}
	case []any:
		for _, e := range x {
			walkKeys(e, path+"[]", fn)
		}
	}
}

// storedKeys returns the names of the fields of every document in a
// world's store.
func storedKeys(t *testing.T, dir string) map[string]bool {
	t.Helper()
	e := openEnv(t, copyDir(t, dir))
	defer e.close()
	keys := map[string]bool{}
	for c := range tre.Collections {
		docs, err := e.store.Query(context.Background(), c, tre.Query{})
		require.NoError(t, err)
		for _, d := range docs {
			var v map[string]any
			require.NoError(t, tre.Decode(d, &v))
			walkKeys(v, "", func(_, key string) { keys[key] = true })
		}
	}
	return keys
}

// No answer of any route carries a field the control plane keeps for
// itself: the routes are called, each once, on a world whose store holds
// every kind of bookkeeping (answers of openapi.json describe the routes,
// and carry no data).
func TestNoAnswerCarriesInternalFields(t *testing.T) {
	var dir string
	responses := everyResponse(t, addLeaks(&dir))
	public := map[string]bool{}
	for _, r := range responses {
		if r.route == "GET /api/openapi.json" {
			continue
		}
		for _, v := range jsonValues(t, r.body) {
			walkKeys(v, "", func(path, key string) {
				public[key] = true
				if reason, ok := internalFields[key]; ok {
					t.Errorf("%s answers %s, which is internal (%s)", r.route, path, reason)
				}
				for prefix, paths := range internalAt {
					if strings.Contains(r.route, prefix) && slices.Contains(paths, path) {
						t.Errorf("%s answers %s, a storage field", r.route, path)
					}
				}
			})
		}
	}
	stored := storedKeys(t, dir)
	for key := range internalFields {
		require.True(t, stored[key], "no stored document of the world has %q: the test could not see it leak", key)
	}
	for key := range stored {
		if !public[key] && internalFields[key] == "" {
			t.Errorf("the stored field %q is in no answer and not in internalFields: list it there (or answer with it)", key)
		}
	}
}
