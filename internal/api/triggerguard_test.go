package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
)

// A forged result: anyone who reaches the handler's port posts a deployed
// status with outputs of their choosing. Only loopback peers with the
// trigger key (when the API has one) are heard; the others change nothing,
// not even the store's list of rejected messages.
func TestTriggerRoutesAnswerOnlyTheHost(t *testing.T) {
	dir, w := buildWorld(t, worldRunning)
	e := openEnv(t, copyDir(t, dir))
	ctx := context.Background()
	op, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, w.wsAct)
	require.NoError(t, err)
	st := op.Steps[0]
	forged := statusPayload(t, tre.StatusUpdate{OperationID: op.ID, StepID: st.ID, ID: st.ResourceID, Attempt: 1,
		Status: tre.StatusActionSucceeded, Message: "forged"}, "forged-1", op.ID)
	junk := []byte(`{"Data":{"msg":"\"junk\""},"Metadata":{"MessageId":"\"junk\""}}`)
	const key = "0123456789abcdef0123456789abcdef"
	e.api.TriggerKey = key
	post := func(peer, key string, body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/"+"deployment-status", strings.NewReader(string(body)))
		req.RemoteAddr = peer
		if key != "" {
			req.Header.Set(funchost.TriggerKeyHeader, key)
		}
		rec := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	for name, c := range map[string]struct {
		peer, key string
	}{
		"another machine, with the key": {"192.0.2.7:40000", key},
		"another machine, IPv6":         {"[2001:db8::1]:40000", key},
		"loopback without the key":      {"127.0.0.1:40000", ""},
		"loopback with a wrong key":     {"[::1]:40000", strings.Repeat("x", 32)},
		"no peer address":               {"", key},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, http.StatusForbidden, post(c.peer, c.key, forged))
			require.Equal(t, http.StatusForbidden, post(c.peer, c.key, junk))
			for _, timer := range []string{"operations-watchdog", "dispatch-redelivery", "firewall-reconcile", "airlock-status-changed", "airlock-sweep", "upgrade-batches"} {
				req := httptest.NewRequest(http.MethodPost, "/"+timer, strings.NewReader(`{"Data":{},"Metadata":{}}`))
				req.RemoteAddr = c.peer
				req.Header.Set(funchost.TriggerKeyHeader, c.key)
				rec := httptest.NewRecorder()
				e.api.Handler().ServeHTTP(rec, req)
				require.Equal(t, http.StatusForbidden, rec.Code, timer)
			}
		})
	}
	got, err := tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, op.ID)
	require.NoError(t, err)
	require.Equal(t, op.Status, got.Status, "a refused status changes nothing")
	rejected, err := e.dead.Rejected(ctx)
	require.NoError(t, err)
	require.Empty(t, rejected, "a refused invocation is not kept")

	// The host (loopback, with the key) is heard.
	require.Equal(t, http.StatusOK, post("127.0.0.1:40000", key, forged))
	got, err = tre.GetAs[tre.Operation](ctx, e.store, tre.Operations, op.ID)
	require.NoError(t, err)
	require.Equal(t, tre.StatusActionSucceeded, got.Status)
}
