package api

import (
	"context"
	"log/slog"

	"github.com/tre-go/tre/internal/tre"
)

type ctxKey struct{}

// requestState is what the middleware and the handlers learn about one
// request; the middleware creates it, authentication fills in the user.
type requestState struct {
	id   string
	user tre.User
	log  *slog.Logger
	// workspaceRoles are the caller's roles in the workspace of the path,
	// when the route's access rule needed them.
	workspaceRoles []tre.Role
}

func stateOf(ctx context.Context) *requestState {
	s, _ := ctx.Value(ctxKey{}).(*requestState)
	if s == nil {
		return &requestState{}
	}
	return s
}

func withState(ctx context.Context, s *requestState) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

func requestID(ctx context.Context) string { return stateOf(ctx).id }

// userOf returns the authenticated caller; routes that are not public
// always have one.
func userOf(ctx context.Context) tre.User { return stateOf(ctx).user }

func loggerOf(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l := stateOf(ctx).log; l != nil {
		return l
	}
	return fallback
}

// workspaceRolesOf returns the caller's roles in the path's workspace.
func workspaceRolesOf(ctx context.Context) []tre.Role { return stateOf(ctx).workspaceRoles }
