package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/audit"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func TestListPagesNewestFirstAcrossWindows(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	s := audit.New(st, audit.Options{Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&logs, nil))})

	// 30 records over 60 days, alternating users; two disables of ws-x.
	start := now.Add(-60 * 24 * time.Hour)
	for i := 0; i < 30; i++ {
		now = start.Add(time.Duration(i) * 2 * 24 * time.Hour)
		user := "alice"
		if i%2 == 1 {
			user = "bob"
		}
		rec := audit.Record{Kind: audit.KindRequest, User: audit.Who{ID: user, Name: user}, Action: "update", ResourceID: "r", WorkspaceID: "ws-y"}
		if i == 7 || i == 20 {
			rec.Action, rec.ResourceID, rec.WorkspaceID = "disable", "ws-x", "ws-x"
		}
		require.NoError(t, s.Write(ctx, rec))
	}
	now = start.Add(61 * 24 * time.Hour)
	require.Contains(t, logs.String(), `"msg":"audit"`)
	require.Contains(t, logs.String(), `"user_id":"bob"`)

	// Who disabled ws-x: one request.
	p, err := s.List(ctx, audit.Filter{ResourceID: "ws-x", Action: "disable"})
	require.NoError(t, err)
	require.Len(t, p.Records, 2)
	require.Empty(t, p.Continuation)
	require.Equal(t, "alice", p.Records[0].User.ID, "record 20, the newest, first")
	require.Equal(t, "bob", p.Records[1].User.ID)

	// What bob did on one day.
	day := start.Add(2 * 24 * time.Hour * 9) // record 9's day
	p, err = s.List(ctx, audit.Filter{UserID: "bob", From: day.Truncate(24 * time.Hour), To: day.Truncate(24 * time.Hour).Add(24 * time.Hour)})
	require.NoError(t, err)
	require.Len(t, p.Records, 1)

	// Every record, 7 a page, newest first, no duplicate, none missing.
	seen := map[string]bool{}
	var last string
	tok := ""
	pages := 0
	for {
		p, err := s.List(ctx, audit.Filter{Limit: 7, Continuation: tok})
		require.NoError(t, err)
		pages++
		for _, r := range p.Records {
			require.False(t, seen[r.ID])
			seen[r.ID] = true
			if last != "" {
				require.Less(t, r.ID, last)
			}
			last = r.ID
		}
		if p.Continuation == "" {
			break
		}
		tok = p.Continuation
	}
	require.Len(t, seen, 30)
	require.Equal(t, 5, pages)

	_, err = s.List(ctx, audit.Filter{Continuation: "garbage"})
	require.True(t, tre.IsCode(err, tre.CodeInvalid))
}

func TestOperationOutcome(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s := audit.New(st, audit.Options{})
	done, err := s.RecordEnded(ctx, st, tre.Operation{ID: "op1", ResourceID: "svc1", ResourcePath: "/workspaces/ws1/workspace-services/svc1",
		Action: "upgrade", Status: tre.StatusUpdatingFailed, User: tre.User{ID: "u1", Name: "Una"},
		Attempts: []tre.OperationAttempt{{Number: 1, StartedBy: tre.User{ID: "u1"}}, {Number: 2, StartedBy: tre.User{ID: "u2", Name: "Dos"}}}})
	require.NoError(t, err)
	require.NotNil(t, done, "the log line, once committed")
	done()
	p, err := s.List(ctx, audit.Filter{WorkspaceID: "ws1"})
	require.NoError(t, err)
	require.Len(t, p.Records, 1)
	r := p.Records[0]
	require.Equal(t, "operation-upgrade", r.Action)
	require.Equal(t, "updating_failed", r.OperationStatus)
	require.Equal(t, "workspace-service", r.ResourceType)
	require.Equal(t, "u2", r.User.ID, "who started the attempt that ended")
}
