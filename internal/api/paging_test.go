package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/tre"
)

// The admin's list of dead letters comes in pages: every message exactly
// once, oldest first, whatever the page size.
func TestDeadLettersArePaged(t *testing.T) {
	e := openEnv(t, t.TempDir())
	ctx := context.Background()
	for i := range 7 {
		require.NoError(t, e.dead.Reject(ctx, deadletter.RejectedMessage{Queue: tre.QueueStatus, MessageID: fmt.Sprint("m", i), Reason: "junk"}))
	}
	tok := e.token("admin", "TREAdmin")
	var seen []string
	next := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 7)
		path := "/api/admin/dead-letters?limit=3"
		if next != "" {
			path += "&continuation=" + url.QueryEscape(next)
		}
		status, body, _ := e.do("GET", path, tok, "")
		require.Equal(t, http.StatusOK, status, body)
		var page struct {
			DeadLetters  []struct{ MessageID string } `json:"deadLetters"`
			Continuation string                       `json:"continuation"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &page))
		require.LessOrEqual(t, len(page.DeadLetters), 3)
		for _, d := range page.DeadLetters {
			seen = append(seen, d.MessageID)
		}
		if next = page.Continuation; next == "" {
			break
		}
	}
	require.ElementsMatch(t, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6"}, seen)
	require.Len(t, seen, 7, "each once")

	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "continuation=%25%25"} {
		status, body, _ := e.do("GET", "/api/admin/dead-letters?"+bad, tok, "")
		require.Equal(t, http.StatusBadRequest, status, bad+": "+body)
	}
}
