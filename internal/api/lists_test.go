package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/api"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// TestListsPageAndStream: the unpaged list is AzureTRE's shape with every
// resource; pages walked with their continuation give each resource once;
// filters narrow; bad paging is a 400 naming the parameter; a non-admin
// sees only their workspaces, page or not.
func TestListsPageAndStream(t *testing.T) {
	e := openEnv(t, t.TempDir())
	ctx := context.Background()
	for _, name := range []string{"ws", "other"} {
		_, err := e.reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: name, Version: "1.0.0", Current: true, JSONSchema: minimal(name)}, adminUser)
		require.NoError(t, err)
	}
	var ids []string
	for i := range 7 {
		tmpl := "ws"
		if i%3 == 0 {
			tmpl = "other"
		}
		r, op, err := e.svc.Create(ctx, lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: tmpl, User: adminUser,
			Properties: map[string]any{"display_name": "x", "description": "y"}})
		require.NoError(t, err)
		if i < 5 {
			e.complete(op)
		}
		ids = append(ids, r.ID)
	}
	require.NoError(t, e.roles.Assign(ctx, ids[2], "WorkspaceOwner", []string{ownerUser.ID}, adminUser))
	admin := e.token("admin", "TREAdmin")

	type list struct {
		Workspaces []struct {
			ID               string `json:"id"`
			TemplateName     string `json:"templateName"`
			DeploymentStatus string `json:"deploymentStatus"`
		} `json:"workspaces"`
		Continuation *string `json:"continuation"`
	}
	get := func(token, query string) (int, list) {
		t.Helper()
		status, body, hdr := e.do("GET", "/api/workspaces"+query, token, "")
		var l list
		if status == http.StatusOK {
			require.Equal(t, "application/json", hdr.Get("Content-Type"))
			require.NoError(t, json.Unmarshal([]byte(body), &l), body)
		}
		return status, l
	}
	idsOf := func(l list) []string {
		var out []string
		for _, w := range l.Workspaces {
			out = append(out, w.ID)
		}
		return out
	}

	status, all := get(admin, "")
	require.Equal(t, http.StatusOK, status)
	require.ElementsMatch(t, ids, idsOf(all))
	require.Nil(t, all.Continuation, "the unpaged answer is AzureTRE's: no continuation")

	var walked []string
	pages, query := 0, "?pageSize=2"
	for {
		status, page := get(admin, query)
		require.Equal(t, http.StatusOK, status)
		require.LessOrEqual(t, len(page.Workspaces), 2)
		walked = append(walked, idsOf(page)...)
		pages++
		require.Less(t, pages, 10)
		if page.Continuation == nil {
			break
		}
		query = "?pageSize=2&continuation=" + url.QueryEscape(*page.Continuation)
	}
	require.Equal(t, idsOf(all), walked, "pages give the same resources in the same order")
	require.Equal(t, 4, pages)

	_, others := get(admin, "?templateName=other")
	require.ElementsMatch(t, []string{ids[0], ids[3], ids[6]}, idsOf(others))
	_, waiting := get(admin, "?deploymentStatus=awaiting_deployment&pageSize=10")
	require.ElementsMatch(t, []string{ids[5], ids[6]}, idsOf(waiting))

	for query, field := range map[string]string{
		"?pageSize=0": "pageSize", "?pageSize=1001": "pageSize", "?pageSize=x": "pageSize",
		"?continuation=abc": "continuation", "?pageSize=2&continuation=not-a-token": "continuation",
	} {
		status, body, _ := e.do("GET", "/api/workspaces"+query, admin, "")
		require.Equal(t, http.StatusBadRequest, status, query)
		var problem struct {
			Field string `json:"field"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &problem))
		require.Equal(t, field, problem.Field, query)
	}

	owner := e.token("owner", "TREUser")
	_, mine := get(owner, "")
	require.Equal(t, []string{ids[2]}, idsOf(mine))
	var minePaged []string
	query = "?pageSize=1"
	for {
		_, page := get(owner, query)
		minePaged = append(minePaged, idsOf(page)...)
		if page.Continuation == nil {
			break
		}
		query = "?pageSize=1&continuation=" + url.QueryEscape(*page.Continuation)
	}
	require.Equal(t, []string{ids[2]}, minePaged, "pages leave out what the caller may not see")
}

// failingPages fails ListPage from the failAt-th call on.
type failingPages struct {
	api.Resources
	calls, failAt int
}

func (f *failingPages) ListPage(ctx context.Context, ref lifecycle.Ref, opts lifecycle.ListOptions) (lifecycle.ResourcePage, error) {
	f.calls++
	if f.calls >= f.failAt {
		return lifecycle.ResourcePage{}, tre.Errorf(tre.CodeUnavailable, "the store went away")
	}
	return f.Resources.ListPage(ctx, ref, opts)
}

// An unpaged list is read a page ahead of what is written: every resource
// once, in order; a page that fails after the answer began cuts the
// connection, so that the client cannot take a short list for a whole one.
func TestUnpagedListReadsAheadAndIsCutShortOnFailure(t *testing.T) {
	e := openEnv(t, t.TempDir())
	ctx := context.Background()
	_, err := e.reg.Register(ctx, registry.Kind{Type: tre.TypeWorkspace}, registry.Registration{Name: "ws", Version: "1.0.0", Current: true, JSONSchema: minimal("ws")}, adminUser)
	require.NoError(t, err)
	var ids []string
	for range 8 {
		r, op, err := e.svc.Create(ctx, lifecycle.CreateRequest{Type: tre.TypeWorkspace, TemplateName: "ws", User: adminUser,
			Properties: map[string]any{"display_name": "x", "description": "y"}})
		require.NoError(t, err)
		e.complete(op)
		ids = append(ids, r.ID)
	}
	admin := e.token("admin", "TREAdmin")
	for _, page := range []int{1, 3, 8, 100} {
		fake := &failingPages{Resources: e.svc, failAt: 1 << 30}
		a := &api.API{Log: e.api.Log, Auth: e.api.Auth, Resources: fake, Registry: e.reg, ListStreamPage: page, Metadata: e.api.Metadata}
		srv := httptest.NewServer(a.Handler())
		req, _ := http.NewRequest("GET", srv.URL+"/api/workspaces", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var got struct {
			Workspaces []struct{ ID string } `json:"workspaces"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		resp.Body.Close()
		var gotIDs []string
		for _, w := range got.Workspaces {
			gotIDs = append(gotIDs, w.ID)
		}
		require.Equal(t, ids, gotIDs, "pages of %d", page)
		require.Equal(t, (8+page-1)/page, fake.calls, "pages of %d: each read once (the store tells the last)", page)
		srv.Close()
	}

	fake := &failingPages{Resources: e.svc, failAt: 2}
	a := &api.API{Log: e.api.Log, Auth: e.api.Auth, Resources: fake, Registry: e.reg, ListStreamPage: 3, Metadata: e.api.Metadata}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the first page was written")
	_, err = io.ReadAll(resp.Body)
	require.Error(t, err, "the answer is cut, not ended as if whole")
}
