package airlock

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// The messages the airlock sends are Event Grid events as AzureTRE's API
// publishes them (docs/airlock.md shows both): statusChanged (data version
// 2.0) to the processor, airlockNotification (4.0) to the notification
// topic.

func event(id, subject, kind, version string, when float64, data any) ([]byte, error) {
	ev := tre.AirlockEvent{ID: id, Subject: subject, EventType: kind, DataVersion: version,
		EventTime: time.Unix(0, int64(when*1e9)).UTC().Format(time.RFC3339Nano), Data: data}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("airlock: encode %s: %w", kind, err)
	}
	return b, nil
}

func statusChangedEvent(r *tre.AirlockRequest, ch tre.AirlockChange) ([]byte, error) {
	return event(messageID(r.ID, ch, "status"), r.ID+"/statusChanged", tre.EventStatusChanged, "2.0", ch.When,
		tre.AirlockStatusChanged{RequestID: r.ID, NewStatus: ch.Status, PreviousStatus: ch.Previous, Type: r.Type,
			WorkspaceID: shortID(r.WorkspaceID), Version: ch.Version})
}

// roleKey is AzureTRE's snake_case name of a role in a notification.
var camel = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([a-z])([A-Z])`) })

func roleKey(r tre.Role) string {
	return strings.ToLower(camel().ReplaceAllString(string(r), "${1}_${2}"))
}

// notificationEvent describes a change for notifiers: the request as it
// was after the change, its workspace, and who holds each role there.
func (s *Service) notificationEvent(ctx context.Context, r *tre.AirlockRequest, ch tre.AirlockChange) ([]byte, error) {
	data := tre.AirlockNotification{
		EventType:             "status_changed",
		RecipientEmailsByRole: map[string][]string{},
		RecipientIDsByRole:    map[string][]string{},
		Request: tre.AirlockNotificationRequest{ID: r.ID, CreatedWhen: r.CreatedWhen, CreatedBy: notified(r.CreatedBy),
			UpdatedWhen: ch.When, UpdatedBy: notified(r.UpdatedBy), RequestType: r.Type, Files: r.Files, Status: ch.Status,
			BusinessJustification: r.BusinessJustification, Title: r.Title},
		Workspace:      tre.AirlockNotificationSpace{ID: r.WorkspaceID},
		PreviousStatus: ch.Previous,
	}
	if ch.Status == r.Status {
		data.StatusMessage = r.StatusMessage
	}
	if data.Request.Files == nil {
		data.Request.Files = []tre.AirlockFile{}
	}
	for _, role := range tre.WorkspaceRoles {
		data.RecipientEmailsByRole[roleKey(role)] = []string{}
		data.RecipientIDsByRole[roleKey(role)] = []string{}
	}
	if ws, err := s.workspaces.Get(ctx, lifecycle.WorkspaceRef(r.WorkspaceID)); err == nil {
		data.Workspace.DisplayName, _ = ws.Properties["display_name"].(string)
		data.Workspace.Description, _ = ws.Properties["description"].(string)
	} else if !tre.IsCode(err, tre.CodeNotFound) {
		return nil, fmt.Errorf("airlock: workspace of %s: %w", r.ID, err)
	}
	users, err := s.members.Users(ctx, r.WorkspaceID)
	if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
		return nil, fmt.Errorf("airlock: users of workspace %s: %w", r.WorkspaceID, err)
	}
	for _, u := range users {
		for _, role := range u.Roles {
			k := roleKey(tre.Role(role.ID))
			data.RecipientIDsByRole[k] = append(data.RecipientIDsByRole[k], u.ID)
		}
	}
	return event(messageID(r.ID, ch, "notify"), r.ID+"/airlockNotification", tre.EventAirlockNotification, "4.0", ch.When, data)
}

func notified(u tre.User) tre.NotificationUser {
	return tre.NotificationUser{ID: u.ID, Name: u.Name, Email: u.Email}
}
