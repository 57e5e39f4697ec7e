package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/tre"
)

// airlockRequests adds to a world a draft request of the researcher, one
// in review and one approved, and returns their ids.
func airlockRequests(t testing.TB, e *env, ws string) (draft, review, approved string) {
	t.Helper()
	ctx := context.Background()
	layout := airlock.Layout{TREID: "tre1"}
	mk := func(upTo tre.AirlockStatus) string {
		r, err := e.airlock.Create(ctx, ws, airlock.NewRequest{Type: tre.AirlockImport, Title: "t", BusinessJustification: "b"}, researcherUser)
		require.NoError(t, err)
		if upTo == tre.AirlockDraft {
			return r.ID
		}
		c, err := layout.Container(r, tre.AirlockDraft)
		require.NoError(t, err)
		e.blobs.Put(c, "data.csv", []byte("a,b\n"))
		process := func(s tre.AirlockStatus) {
			_, err := e.airlock.Process(ctx, tre.AirlockStatusChanged{RequestID: r.ID, NewStatus: s})
			require.NoError(t, err)
		}
		_, err = e.airlock.Submit(ctx, ws, r.ID, researcherUser)
		require.NoError(t, err)
		process(tre.AirlockSubmitted)
		if upTo == tre.AirlockInReview {
			return r.ID
		}
		_, err = e.airlock.Review(ctx, ws, r.ID, true, "fine", airlockUser)
		require.NoError(t, err)
		process(tre.AirlockApprovalInProgress)
		return r.ID
	}
	return mk(tre.AirlockDraft), mk(tre.AirlockInReview), mk(tre.AirlockApproved)
}

// AzureTRE's clients' bodies and answers: the e2e test's "approval":
// "True", an illegal change's 400 with AzureTRE's text, the 501 of review
// VMs, and the processor's function.
func TestAirlockRoutes(t *testing.T) {
	dir, w := buildWorld(t, worldEnabled)
	e := openEnv(t, copyDir(t, dir))
	ws := "/api/workspaces/" + w.ws
	researcher, manager := e.tokenFor("R"), e.tokenFor("M")

	status, body, _ := e.do("POST", ws+"/requests/"+w.arReview+"/review", manager, `{"approval":"True","decisionExplanation":"the reason"}`)
	require.Equal(t, 200, status, body)
	require.Contains(t, body, `"status":"approval_in_progress"`)
	require.Contains(t, body, `"decisionExplanation":"the reason"`)
	status, body, _ = e.do("POST", ws+"/requests/"+w.arReview+"/review", manager, `{"approval":"maybe"}`)
	require.Equal(t, 400, status, body)
	require.Contains(t, body, `"field":"approval"`)

	status, body, _ = e.do("POST", ws+"/requests/"+w.arApproved+"/submit", researcher, "")
	require.Equal(t, 400, status)
	require.Contains(t, body, `"detail":"Airlock request status change was illegal"`)

	status, body, _ = e.do("POST", ws+"/requests/"+w.arReview+"/review-user-resource", manager, "")
	require.Equal(t, 501, status)
	require.Contains(t, body, "not implemented")

	status, body, _ = e.do("POST", ws+"/requests", researcher, `{"type":"sideways"}`)
	require.Equal(t, 400, status)
	require.Contains(t, body, `"field":"type"`)
	status, body, _ = e.do("GET", ws+"/requests?order_by=nonsense", researcher, "")
	require.Equal(t, 400, status)
	require.Contains(t, body, `"field":"order_by"`)

	// The processor's function: a draft's container is made; a malformed
	// message is kept for admins and answered 200 (not retried).
	status, out := e.invoke("airlock-status-changed", statusPayload(t, map[string]any{"eventType": "statusChanged",
		"data": map[string]any{"request_id": w.arDraft, "new_status": "draft", "type": "import"}}, "m1", w.arDraft))
	require.Equal(t, 200, status)
	require.Contains(t, out.Logs[0], "ready")
	require.True(t, e.blobs.Exists(tre.BlobContainer{Account: "stalimextre1", Name: w.arDraft}))
	status, out = e.invoke("airlock-status-changed", statusPayload(t, map[string]any{"data": map[string]any{}}, "m2", "x"))
	require.Equal(t, 200, status)
	require.Contains(t, out.Logs[0], "rejected")
	status, body, _ = e.do("GET", "/api/admin/dead-letters", e.tokenFor("A"), "")
	require.Equal(t, 200, status)
	require.Contains(t, body, `"messageId":"m2"`)

	// Storage down: the function answers 500, so the host retries.
	e.blobs.Fail = func(op string, c tre.BlobContainer, name string) error {
		return tre.Errorf(tre.CodeUnavailable, "storage down")
	}
	status, _ = e.invoke("airlock-status-changed", statusPayload(t, map[string]any{"eventType": "statusChanged",
		"data": map[string]any{"request_id": w.arDraft, "new_status": "draft", "type": "import"}}, "m3", w.arDraft))
	require.Equal(t, 500, status)
}

// Without storage the airlock's routes answer 503 naming what is missing;
// the rest of the API works.
func TestAirlockWithoutStorage(t *testing.T) {
	dir, w := buildWorld(t, worldEnabled)
	e := openEnv(t, copyDir(t, dir))
	e.api.Airlock = airlock.New(e.store, nil, nil, e.queue, e.svc, e.roles,
		airlock.Config{Unavailable: "The airlock has no storage: TRE_AIRLOCK_STORAGE is off"}, airlock.Options{})
	e.srv.Config.Handler = e.api.Handler()
	status, body, _ := e.do("GET", "/api/workspaces/"+w.ws+"/requests", e.tokenFor("R"), "")
	require.Equal(t, 503, status)
	require.Contains(t, body, "TRE_AIRLOCK_STORAGE is off")
	status, _, _ = e.do("GET", "/api/workspaces/"+w.ws, e.tokenFor("R"), "")
	require.Equal(t, 200, status)
}
