package api_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// One user may hold MaxStreamsPerUser event streams at once; the next gets
// 429 until one closes. Another user is not affected.
func TestEventStreamsCappedPerUser(t *testing.T) {
	dir, w := buildWorld(t, worldRunning)
	e := openEnv(t, copyDir(t, dir))
	e.api.MaxStreamsPerUser = 2
	path := "/api/workspaces/" + w.ws + "/operations/" + w.wsAct + "/events"
	admin := e.token("admin", "TREAdmin")
	open := func(tok string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}
	// A stream counts once its first event is out.
	stream := func(tok string) *http.Response {
		resp := open(tok)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(line, "id: "), line)
		return resp
	}
	first, second := stream(admin), stream(admin)
	defer second.Body.Close()
	over := open(admin)
	require.Equal(t, http.StatusTooManyRequests, over.StatusCode)
	over.Body.Close()

	other := stream(e.token("admin2", "TREAdmin"))
	other.Body.Close()

	first.Body.Close()
	require.Eventually(t, func() bool {
		resp := open(admin)
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "a closed stream gives its slot back")
}

// HEAD is GET without the body, as the Functions route allows it.
func TestHeadIsGetWithoutBody(t *testing.T) {
	dir, w := buildWorld(t, worldRunning)
	e := openEnv(t, copyDir(t, dir))
	admin := e.token("admin", "TREAdmin")
	for path, want := range map[string]int{
		"/api/workspaces/" + w.ws:                              http.StatusOK,
		"/api/workspaces/00000000-0000-4000-8000-000000000000": http.StatusNotFound,
		"/api/health": http.StatusOK,
	} {
		status, body, _ := e.do(http.MethodHead, path, admin, "")
		require.Equal(t, want, status, path)
		require.Empty(t, body, path)
	}
	status, _, header := e.do(http.MethodPut, "/api/health", admin, "")
	require.Equal(t, http.StatusMethodNotAllowed, status)
	require.Equal(t, "GET, HEAD", header.Get("Allow"))
}
