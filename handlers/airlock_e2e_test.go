package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/auth"
	"github.com/tre-go/tre/internal/azblobstore"
	"github.com/tre-go/tre/internal/azblobstore/azuritetest"
	"github.com/tre-go/tre/internal/scanstub"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// airlockEnv is the handler's airlock on Azurite, with the scanner
// stand-in.
func airlockEnv(srv azuritetest.Server) map[string]string {
	return map[string]string{"TRE_AIRLOCK_BLOB_ENDPOINT": srv.Endpoint, "TRE_AIRLOCK_BLOB_KEY": srv.Key,
		"TRE_AIRLOCK_SCANNER": "stand-in", "TRE_AIRLOCK_SWEEP_INTERVAL": "1s"}
}

// airlockWorld is a deployed sandbox workspace with a researcher, an
// airlock manager and an owner.
type airlockWorld struct {
	ws                                   string
	admin, researcher, manager, outsider string
}

func (h *handler) airlockWorld() airlockWorld {
	h.t.Helper()
	w := airlockWorld{admin: h.token("TREAdmin", "alice"), researcher: h.token("TREUser", "rita"),
		manager: h.token("TREUser", "manu"), outsider: h.token("TREUser", "otto")}
	loc := h.mutate("POST", "/api/workspaces", w.admin, map[string]any{"templateName": "tre-workspace-sandbox",
		"properties": map[string]any{"display_name": "Airlock", "description": "d", "address_space_size": "small"}})
	require.Equal(h.t, "deployed", h.waitOp(loc, w.admin)["status"])
	w.ws = idFrom(loc, 3)
	for role, user := range map[string]string{"WorkspaceResearcher": "rita", "AirlockManager": "manu"} {
		require.Equal(h.t, 202, h.do("POST", "/api/workspaces/"+w.ws+"/users/assign", w.admin,
			map[string]any{"role_id": role, "user_ids": []string{auth.DevUserID(user)}}).status)
	}
	return w
}

// request returns a request as a member sees it.
func (h *handler) request(w airlockWorld, id, token string) map[string]any {
	h.t.Helper()
	r := h.do("GET", "/api/workspaces/"+w.ws+"/requests/"+id, token, nil)
	require.Equal(h.t, 200, r.status, "%s", r.body)
	return r.json(h.t)["airlockRequest"].(map[string]any)
}

// waitRequest polls a request until it has a status, within a deadline.
func (h *handler) waitRequest(w airlockWorld, id, status string) map[string]any {
	h.t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r := h.request(w, id, w.researcher)
		if r["status"] == status {
			return r
		}
		select {
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("request %s is %s (%v), not %s", id, r["status"], r["statusMessage"], status)
			return nil
		}
	}
}

// link returns a request's container URL for a token.
func (h *handler) link(w airlockWorld, id, token string) string {
	h.t.Helper()
	r := h.do("GET", "/api/workspaces/"+w.ws+"/requests/"+id+"/link", token, nil)
	require.Equal(h.t, 200, r.status, "%s", r.body)
	return r.json(h.t)["containerUrl"].(string)
}

// blobURL is the URL of a blob in a linked container.
func blobURL(container, name string) string {
	base, query, _ := strings.Cut(container, "?")
	return base + "/" + name + "?" + query
}

// upload puts a file through a link, as curl --upload-file does; the
// processor creates the container just after the request, so a 404 is
// tried again.
func upload(t *testing.T, container, name string, data []byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequest(http.MethodPut, blobURL(container, name), bytes.NewReader(data))
		require.NoError(t, err)
		req.Header.Set("x-ms-blob-type", "BlockBlob")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			return
		}
		require.True(t, resp.StatusCode == http.StatusNotFound && time.Now().Before(deadline), "upload %s: %d %s", name, resp.StatusCode, body)
		<-tick.C
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The airlock under the real Main, on Azurite: an import is uploaded
// through its link, submitted, scanned, reviewed read-only and approved,
// and its file ends in the workspace's approved container; a file with the
// EICAR string ends blocked; an export runs the other way; illegal changes
// get 400 and non-members 403; every change is a notification.
func TestAirlockEndToEnd(t *testing.T) {
	srv := azuritetest.Start(t)
	h := startLocal(t, t.TempDir(), airlockEnv(srv))
	w := h.airlockWorld()
	reqs := "/api/workspaces/" + w.ws + "/requests"

	r := h.do("POST", reqs, w.researcher, map[string]any{"type": "import", "title": "Census", "businessJustification": "analysis"})
	require.Equal(t, 201, r.status, "%s", r.body)
	id := r.json(t)["airlockRequest"].(map[string]any)["id"].(string)
	draft := h.link(w, id, w.researcher)
	require.Contains(t, draft, "/stalimexlocal-"+id+"?")
	upload(t, draft, "data.csv", []byte("id,value\n1,42\n"))
	require.Equal(t, 200, h.do("POST", reqs+"/"+id+"/submit", w.researcher, nil).status)
	ar := h.waitRequest(w, id, "in_review")
	require.Equal(t, []any{map[string]any{"name": "data.csv", "size": float64(14)}}, ar["files"])
	require.Contains(t, ar["statusMessage"], "stand-in")

	review := h.link(w, id, w.manager)
	status, body := get(t, blobURL(review, "data.csv"))
	require.Equal(t, 200, status)
	require.Equal(t, "id,value\n1,42\n", body, "the reviewer reads the file")
	require.Equal(t, 403, h.do("GET", reqs+"/"+id+"/link", w.researcher, nil).status, "researchers do not in review")
	require.Equal(t, 200, h.do("POST", reqs+"/"+id+"/review", w.manager, map[string]any{"approval": "True", "decisionExplanation": "fine"}).status)
	h.waitRequest(w, id, "approved")
	approved := h.link(w, id, w.researcher)
	require.Contains(t, approved, "/stalimappws"+w.ws[len(w.ws)-4:]+"-"+id+"?", "the workspace's approved account")
	status, body = get(t, blobURL(approved, "data.csv"))
	require.Equal(t, 200, status)
	require.Equal(t, "id,value\n1,42\n", body)
	status, _ = get(t, draft+"&restype=container&comp=list")
	require.Equal(t, 404, status, "the draft's container is gone")

	// The EICAR test string: blocked by the (stand-in) scan.
	r = h.do("POST", reqs, w.researcher, map[string]any{"type": "import", "businessJustification": "x"})
	bad := r.json(t)["airlockRequest"].(map[string]any)["id"].(string)
	upload(t, h.link(w, bad, w.researcher), "eicar.com", []byte(scanstub.EICAR))
	require.Equal(t, 200, h.do("POST", reqs+"/"+bad+"/submit", w.researcher, nil).status)
	ar = h.waitRequest(w, bad, "blocked_by_scan")
	require.Contains(t, ar["statusMessage"], "Malicious")
	require.Contains(t, ar["statusMessage"], "stand-in")

	// An export, the other way round.
	r = h.do("POST", reqs, w.researcher, map[string]any{"type": "export", "businessJustification": "results"})
	exp := r.json(t)["airlockRequest"].(map[string]any)["id"].(string)
	upload(t, h.link(w, exp, w.researcher), "results.csv", []byte("mean,0.5\n"))
	require.Equal(t, 200, h.do("POST", reqs+"/"+exp+"/submit", w.researcher, nil).status)
	h.waitRequest(w, exp, "in_review")
	require.Equal(t, 200, h.do("POST", reqs+"/"+exp+"/review", w.manager, map[string]any{"approval": true, "decisionExplanation": "ok"}).status)
	h.waitRequest(w, exp, "approved")
	out := h.link(w, exp, w.researcher)
	require.Contains(t, out, "/stalexapplocal-"+exp+"?", "out of the workspace")
	_, body = get(t, blobURL(out, "results.csv"))
	require.Equal(t, "mean,0.5\n", body)

	// Refusals.
	p := requireProblem(t, h.do("POST", reqs+"/"+id+"/submit", w.researcher, nil), 400)
	require.Equal(t, "Airlock request status change was illegal", p["detail"])
	requireProblem(t, h.do("GET", reqs, w.outsider, nil), 403)
	requireProblem(t, h.do("POST", reqs, w.manager, map[string]any{"type": "import"}), 403)

	// Every status change is a notification; the local consumer writes them.
	require.Eventually(t, func() bool {
		return strings.Count(readFileOr(filepath.Join(h.dir, "airlock-notifications.jsonl")), "\n") == 5+5+4
	}, 20*time.Second, 50*time.Millisecond, "draft..approved, draft..blocked_by_scan, draft..approved (export): %s",
		readFileOr(filepath.Join(h.dir, "airlock-notifications.jsonl")))
	var ev tre.AirlockEvent
	lines := strings.Split(strings.TrimSpace(readFileOr(filepath.Join(h.dir, "airlock-notifications.jsonl"))), "\n")
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &ev))
	require.Equal(t, tre.EventAirlockNotification, ev.EventType)
	require.Equal(t, "4.0", ev.DataVersion)
	h.assertAllEnded(w.admin)
}

func readFileOr(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestAirlockSurvivesSIGKILL kills tre-handler (the real program, in a
// child process) while the airlock processor copies an approved request's
// files to the workspace, and starts it again: the message comes back when
// its lock expires, the copy is done again, and the request is approved
// exactly once (one change, one notification), with every file there and
// none left in progress.
func TestAirlockSurvivesSIGKILL(t *testing.T) {
	srv := azuritetest.Start(t)
	dir := t.TempDir()
	start := childHandler(t, childEnv(dir, airlockEnv(srv)))
	cmd, url := start()
	h := &handler{t: t, dir: dir, url: url, logs: &syncBuffer{}}
	w := h.airlockWorld()
	reqs := "/api/workspaces/" + w.ws + "/requests"
	r := h.do("POST", reqs, w.researcher, map[string]any{"type": "import", "businessJustification": "many files"})
	require.Equal(t, 201, r.status, "%s", r.body)
	id := r.json(t)["airlockRequest"].(map[string]any)["id"].(string)
	draft := h.link(w, id, w.researcher)
	const files = 300
	for i := range files {
		upload(t, draft, fmt.Sprintf("part-%03d.csv", i), []byte(fmt.Sprintf("part,%d\n", i)))
	}
	require.Equal(t, 200, h.do("POST", reqs+"/"+id+"/submit", w.researcher, nil).status)
	h.waitRequest(w, id, "in_review")

	store, err := azblobstore.New(azblobstore.Config{Endpoint: srv.Endpoint, AccountName: srv.Account, AccountKey: srv.Key})
	require.NoError(t, err)
	approvedC := tre.BlobContainer{Account: "stalimappws" + w.ws[len(w.ws)-4:], Name: id}
	inProgress := tre.BlobContainer{Account: "stalimiplocal", Name: id}
	require.Equal(t, 200, h.do("POST", reqs+"/"+id+"/review", w.manager, map[string]any{"approval": true, "decisionExplanation": "ok"}).status)

	// Kill it as soon as the copy to the workspace has begun.
	ctx := context.Background()
	copied := 0
	require.Eventually(t, func() bool {
		list, err := store.List(ctx, approvedC)
		copied = len(list)
		return err == nil && copied > 0
	}, 30*time.Second, 5*time.Millisecond, "the copy began")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Less(t, copied, files, "killed mid-copy")
	db, err := sqlite.Open(ctx, dir)
	require.NoError(t, err)
	stored, err := tre.GetAs[tre.AirlockRequest](ctx, sqlite.NewStore(db), tre.AirlockRequests, id)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.Equal(t, tre.AirlockApprovalInProgress, stored.Status, "killed before the outcome")

	cmd, h.url = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ar := h.waitRequest(w, id, "approved")
	list, err := store.List(ctx, approvedC)
	require.NoError(t, err)
	require.Len(t, list, files, "every file is in the workspace")
	_, err = store.List(ctx, inProgress)
	require.Equal(t, tre.CodeNotFound, tre.ErrorCode(err), "nothing left in progress")

	history := ar["history"].([]any)
	require.Len(t, history, 4, "the states before each change: draft, submitted, in_review, approval_in_progress, once each")
	approvals := 0
	for _, h := range history {
		if h.(map[string]any)["properties"].(map[string]any)["previousStatus"] == "approval_in_progress" {
			approvals++
		}
	}
	require.Equal(t, 1, approvals, "one change out of approval_in_progress: approved once")
	require.Equal(t, float64(4), ar["resourceVersion"])
	require.Eventually(t, func() bool {
		n := 0
		for _, line := range strings.Split(readFileOr(filepath.Join(dir, "airlock-notifications.jsonl")), "\n") {
			if strings.Contains(line, `"status":"approved"`) {
				n++
			}
		}
		return n == 1
	}, 20*time.Second, 50*time.Millisecond, "one notification of the approval")
}
