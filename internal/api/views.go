package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/tre-go/tre/internal/assignment"
	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// The API's answers are its own types, converted here, in one place, from
// what the services return (stored documents among them): a field the
// control plane keeps for itself (secret references, the intent record,
// storage ids) never reaches a client by accident. The JSON names are
// AzureTRE's where AzureTRE has the field (see
// shared/reference/azuretre-contract.md), ours otherwise.

// Resource is a workspace, workspace service, user resource or shared
// service (AzureTRE's shape).
type Resource struct {
	ID                string             `json:"id"`
	TemplateName      string             `json:"templateName"`
	TemplateVersion   string             `json:"templateVersion"`
	Properties        map[string]any     `json:"properties"`
	AvailableUpgrades []AvailableUpgrade `json:"availableUpgrades,omitempty"`
	IsEnabled         bool               `json:"isEnabled"`
	ResourceType      tre.ResourceType   `json:"resourceType"`
	DeploymentStatus  tre.Status         `json:"deploymentStatus"`
	ETag              string             `json:"_etag,omitempty"`
	ResourcePath      string             `json:"resourcePath"`
	ResourceVersion   int                `json:"resourceVersion"`
	User              tre.User           `json:"user"`
	UpdatedWhen       float64            `json:"updatedWhen"`
	// Workspace services and user resources.
	WorkspaceID string `json:"workspaceId,omitempty"`
	// User resources.
	ParentWorkspaceServiceID string `json:"parentWorkspaceServiceId,omitempty"`
	OwnerID                  string `json:"ownerId,omitempty"`
}

// AvailableUpgrade is a template version a resource may move to.
type AvailableUpgrade struct {
	Version             string `json:"version"`
	ForceUpdateRequired bool   `json:"forceUpdateRequired"`
}

func resourceOf(r *tre.Resource, ups []tre.AvailableUpgrade) Resource {
	return Resource{
		ID: r.ID, TemplateName: r.TemplateName, TemplateVersion: r.TemplateVersion, Properties: r.Properties,
		AvailableUpgrades: upgradesOf(ups), IsEnabled: r.IsEnabled, ResourceType: r.ResourceType,
		DeploymentStatus: r.DeploymentStatus, ETag: r.ETag, ResourcePath: r.ResourcePath, ResourceVersion: r.ResourceVersion,
		User: r.User, UpdatedWhen: r.UpdatedWhen, WorkspaceID: r.WorkspaceID,
		ParentWorkspaceServiceID: r.ParentWorkspaceServiceID, OwnerID: r.OwnerID,
	}
}

func upgradesOf(ups []tre.AvailableUpgrade) []AvailableUpgrade {
	out := make([]AvailableUpgrade, len(ups))
	for i, u := range ups {
		out[i] = AvailableUpgrade{Version: u.Version, ForceUpdateRequired: u.ForceUpdateRequired}
	}
	return out
}

// RestrictedSharedService is what a TREUser sees of a shared service
// (AzureTRE's restricted view).
type RestrictedSharedService struct {
	ID                string             `json:"id"`
	TemplateName      string             `json:"templateName"`
	TemplateVersion   string             `json:"templateVersion"`
	Properties        map[string]any     `json:"properties"`
	AvailableUpgrades []AvailableUpgrade `json:"availableUpgrades"`
	IsEnabled         bool               `json:"isEnabled"`
	ResourceType      tre.ResourceType   `json:"resourceType"`
	DeploymentStatus  tre.Status         `json:"deploymentStatus"`
	ETag              string             `json:"_etag"`
	ResourcePath      string             `json:"resourcePath"`
	ResourceVersion   int                `json:"resourceVersion"`
	User              tre.User           `json:"user"`
	UpdatedWhen       float64            `json:"updatedWhen"`
}

// restrictedOf is AzureTRE's restricted view: only the properties meant
// for every user, is_exposed_externally true unless the resource says.
func restrictedOf(r *tre.Resource, ups []tre.AvailableUpgrade) RestrictedSharedService {
	props := map[string]any{"is_exposed_externally": true}
	for _, k := range []string{"display_name", "description", "overview", "connection_uri", "is_exposed_externally"} {
		if v, ok := r.Properties[k]; ok {
			props[k] = v
		}
	}
	return RestrictedSharedService{
		ID: r.ID, TemplateName: r.TemplateName, TemplateVersion: r.TemplateVersion, Properties: props,
		AvailableUpgrades: upgradesOf(ups), IsEnabled: r.IsEnabled, ResourceType: r.ResourceType,
		DeploymentStatus: r.DeploymentStatus, ETag: r.ETag, ResourcePath: r.ResourcePath,
		ResourceVersion: r.ResourceVersion, User: r.User, UpdatedWhen: r.UpdatedWhen,
	}
}

// HistoryItem is a resource's state before one of its changes (AzureTRE's
// ResourceHistoryItem).
type HistoryItem struct {
	ID              string         `json:"id"`
	ResourceID      string         `json:"resourceId"`
	Properties      map[string]any `json:"properties"`
	IsEnabled       bool           `json:"isEnabled"`
	ResourceVersion int            `json:"resourceVersion"`
	UpdatedWhen     float64        `json:"updatedWhen"`
	User            tre.User       `json:"user"`
	TemplateVersion string         `json:"templateVersion"`
}

func historyOf(items []*tre.ResourceHistoryItem) []HistoryItem {
	out := make([]HistoryItem, len(items))
	for i, h := range items {
		out[i] = HistoryItem{ID: h.ID, ResourceID: h.ResourceID, Properties: h.Properties, IsEnabled: h.IsEnabled,
			ResourceVersion: h.ResourceVersion, UpdatedWhen: h.UpdatedWhen, User: h.User, TemplateVersion: h.TemplateVersion}
	}
	return out
}

// Operation is one mutation of a resource as ordered steps (AzureTRE's
// shape, with our attempts and step details).
type Operation struct {
	ID              string          `json:"id"`
	ResourceID      string          `json:"resourceId"`
	ResourcePath    string          `json:"resourcePath"`
	ResourceVersion int             `json:"resourceVersion"`
	Status          tre.Status      `json:"status"`
	Action          string          `json:"action"`
	Message         string          `json:"message"`
	CreatedWhen     float64         `json:"createdWhen"`
	UpdatedWhen     float64         `json:"updatedWhen"`
	User            tre.User        `json:"user"`
	Steps           []OperationStep `json:"steps"`
	ETag            string          `json:"_etag,omitempty"`
	// Attempts are the runs of the operation: the first, then one per
	// retry.
	Attempts []OperationAttempt `json:"attempts,omitempty"`
}

// OperationStep is one step of an operation: AzureTRE's fields, then ours
// (when it was sent, started and last heard of, by which agent, the tail of
// its output, a cancellation asked for, and its kind).
type OperationStep struct {
	ID                       string           `json:"id"`
	TemplateStepID           string           `json:"templateStepId"`
	StepTitle                string           `json:"stepTitle"`
	ResourceID               string           `json:"resourceId"`
	ResourceTemplateName     string           `json:"resourceTemplateName"`
	ResourceType             tre.ResourceType `json:"resourceType"`
	ResourceAction           string           `json:"resourceAction"`
	Status                   tre.Status       `json:"status"`
	Message                  string           `json:"message"`
	UpdatedWhen              float64          `json:"updatedWhen"`
	SourceTemplateResourceID string           `json:"sourceTemplateResourceId"`
	DispatchedWhen           float64          `json:"dispatchedWhen,omitempty"`
	Attempt                  int              `json:"attempt,omitempty"`
	StartedWhen              float64          `json:"startedWhen,omitempty"`
	HeartbeatWhen            float64          `json:"heartbeatWhen,omitempty"`
	Agent                    string           `json:"agent,omitempty"`
	LogTail                  string           `json:"logTail,omitempty"`
	CancelRequested          *CancelRequest   `json:"cancelRequested,omitempty"`
	Kind                     string           `json:"kind,omitempty"`
}

// CancelRequest says who asked to cancel a step, when and why.
type CancelRequest struct {
	OperationID string  `json:"operationId"`
	StepID      string  `json:"stepId"`
	Attempt     int     `json:"attempt"`
	By          string  `json:"by"`
	When        float64 `json:"when"`
	Reason      string  `json:"reason,omitempty"`
}

// OperationAttempt is one run of an operation.
type OperationAttempt struct {
	Number      int        `json:"number"`
	StartedWhen float64    `json:"startedWhen"`
	StartedBy   tre.User   `json:"startedBy"`
	FromStep    int        `json:"fromStep"`
	EndedWhen   float64    `json:"endedWhen,omitempty"`
	Outcome     tre.Status `json:"outcome,omitempty"`
	Message     string     `json:"message,omitempty"`
}

func operationOf(op *tre.Operation) Operation {
	out := Operation{
		ID: op.ID, ResourceID: op.ResourceID, ResourcePath: op.ResourcePath, ResourceVersion: op.ResourceVersion,
		Status: op.Status, Action: op.Action, Message: op.Message, CreatedWhen: op.CreatedWhen, UpdatedWhen: op.UpdatedWhen,
		User: op.User, Steps: make([]OperationStep, len(op.Steps)), ETag: op.ETag,
	}
	for i, st := range op.Steps {
		out.Steps[i] = stepOf(st)
	}
	for _, a := range op.Attempts {
		out.Attempts = append(out.Attempts, OperationAttempt{Number: a.Number, StartedWhen: a.StartedWhen, StartedBy: a.StartedBy,
			FromStep: a.FromStep, EndedWhen: a.EndedWhen, Outcome: a.Outcome, Message: a.Message})
	}
	return out
}

func stepOf(st tre.OperationStep) OperationStep {
	out := OperationStep{
		ID: st.ID, TemplateStepID: st.TemplateStepID, StepTitle: st.StepTitle, ResourceID: st.ResourceID,
		ResourceTemplateName: st.ResourceTemplateName, ResourceType: st.ResourceType, ResourceAction: st.ResourceAction,
		Status: st.Status, Message: st.Message, UpdatedWhen: st.UpdatedWhen, SourceTemplateResourceID: st.SourceTemplateResourceID,
		DispatchedWhen: st.DispatchedWhen, Attempt: st.Attempt, StartedWhen: st.StartedWhen, HeartbeatWhen: st.HeartbeatWhen,
		Agent: st.Agent, LogTail: st.LogTail, Kind: st.Kind,
	}
	if c := st.CancelRequested; c != nil {
		out.CancelRequested = &CancelRequest{OperationID: c.OperationID, StepID: c.StepID, Attempt: c.Attempt, By: c.By, When: c.When, Reason: c.Reason}
	}
	return out
}

func operationsOf(ops []*tre.Operation) []Operation {
	out := make([]Operation, len(ops))
	for i, op := range ops {
		out[i] = operationOf(op)
	}
	return out
}

// WorkspaceUser is a user with roles in a workspace (AzureTRE's shape).
type WorkspaceUser struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
	Roles             []Role `json:"roles"`
}

// Role is an assignable workspace role (AzureTRE's {id, displayName}).
type Role struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

func rolesOf(roles []assignment.RoleInfo) []Role {
	out := make([]Role, len(roles))
	for i, r := range roles {
		out[i] = Role{ID: r.ID, DisplayName: r.DisplayName}
	}
	return out
}

func usersOf(users []assignment.WorkspaceUser) []WorkspaceUser {
	out := make([]WorkspaceUser, len(users))
	for i, u := range users {
		out[i] = WorkspaceUser{ID: u.ID, DisplayName: u.DisplayName, UserPrincipalName: u.UserPrincipalName, Roles: rolesOf(u.Roles)}
	}
	return out
}

// DeadLetter is a dead-lettered or refused message, with the operation it
// belongs to.
type DeadLetter struct {
	// Queue is workspacequeue or deploymentstatus for dead-lettered
	// messages, "rejected" for status messages the control plane refused.
	Queue          string  `json:"queue"`
	ID             string  `json:"id"`
	MessageID      string  `json:"messageId"`
	SessionID      string  `json:"sessionId"`
	Reason         string  `json:"reason"`
	Description    string  `json:"description,omitempty"`
	DeliveryCount  int     `json:"deliveryCount"`
	OperationID    string  `json:"operationId,omitempty"`
	StepID         string  `json:"stepId,omitempty"`
	ResourceID     string  `json:"resourceId,omitempty"`
	DeadLetteredAt float64 `json:"deadLetteredAt,omitempty"`
	Body           string  `json:"body"`
}

func deadLettersOf(list []deadletter.DeadLetter) []DeadLetter {
	out := make([]DeadLetter, len(list))
	for i, d := range list {
		out[i] = DeadLetter{Queue: d.Queue, ID: d.ID, MessageID: d.MessageID, SessionID: d.SessionID, Reason: d.Reason,
			Description: d.Description, DeliveryCount: d.DeliveryCount, OperationID: d.OperationID, StepID: d.StepID,
			ResourceID: d.ResourceID, DeadLetteredAt: d.DeadLetteredAt, Body: d.Body}
	}
	return out
}

// FirewallState is the firewall as admins see it: what the owners
// declare, what the firewall has, and who is left out and why.
type FirewallState struct {
	// Desired are the groups the owners' rules add up to now.
	Desired []tre.RuleCollectionGroup `json:"desired"`
	// Applied are the groups the firewall has (managed and others).
	Applied []tre.RuleCollectionGroup `json:"applied"`
	// Owners is the desired state by owner.
	Owners []firewall.Owned `json:"owners"`
	// Problems are the owners left out, and why.
	Problems []OwnerProblem `json:"problems"`
	// LastReconcile is the last reconcile's result.
	LastReconcile *firewall.Result `json:"lastReconcile"`
	GroupPrefix   string           `json:"groupPrefix"`
}

// OwnerProblem says why an owner's rules are not in the firewall.
type OwnerProblem struct {
	Owner   tre.RuleOwner `json:"owner"`
	Message string        `json:"message"`
}

func firewallOf(v *egress.View) FirewallState {
	return FirewallState{Desired: v.Desired, Applied: v.Applied, Owners: v.Owners, Problems: problemsOf(v.Problems),
		LastReconcile: v.LastReconcile, GroupPrefix: v.GroupPrefix}
}

func problemsOf(ps []egress.Problem) []OwnerProblem {
	out := make([]OwnerProblem, len(ps))
	for i, p := range ps {
		out[i] = OwnerProblem{Owner: p.Owner, Message: p.Message}
	}
	return out
}

// Reconcile is the outcome of a reconcile: what was written, deleted and
// left alone, and the owners left out.
type Reconcile struct {
	Result   firewall.Result `json:"result"`
	Problems []OwnerProblem  `json:"problems"`
}

func reconcileOf(rep *egress.Report) Reconcile {
	return Reconcile{Result: rep.Result, Problems: problemsOf(rep.Problems)}
}

// ManualRuleSet is an admin's rule set.
type ManualRuleSet struct {
	Name        string           `json:"name"`
	Rules       firewall.RuleSet `json:"rules"`
	UpdatedWhen float64          `json:"updatedWhen"`
	UpdatedBy   tre.User         `json:"updatedBy"`
	ETag        string           `json:"_etag,omitempty"`
}

func manualRuleSetOf(m *egress.ManualRules) ManualRuleSet {
	return ManualRuleSet{Name: m.Name, Rules: m.Rules, UpdatedWhen: m.UpdatedWhen, UpdatedBy: m.UpdatedBy, ETag: m.ETag}
}

// appendResource appends resourceOf's answer for a listed resource, made
// from its stored members: each answer field whose stored field has the
// same name is copied as stored (a member the answer does not have, such
// as secretRefs, is never copied), _etag and availableUpgrades are added.
// The fields come in Resource's order, a missing member gives the field's
// zero value, and an omitempty field with an empty value is left out, as
// encoding/json does. TestListedAnswerIsResourceOf holds it equal to
// resourceOf's answer.
func appendResource(b []byte, l *lifecycle.Listed, ups []tre.AvailableUpgrade) []byte {
	b = append(b, '{')
	first := true
	add := func(f answerField, v []byte) {
		if f.omitEmpty && emptyJSON(v) {
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.key...)
		b = append(b, v...)
	}
	for _, f := range resourceFields {
		switch f.name {
		case "_etag":
			v, _ := json.Marshal(l.ETag)
			add(f, v)
		case "availableUpgrades":
			if len(ups) > 0 {
				v, _ := json.Marshal(upgradesOf(ups))
				add(f, v)
			}
		default:
			v := l.Member(f.name)
			if v == nil {
				v = f.zero
			}
			add(f, v)
		}
	}
	return append(b, '}')
}

// answerField is a field of an answer type as encoding/json writes it.
type answerField struct {
	name      string
	key       []byte // "name":
	omitEmpty bool
	zero      json.RawMessage // the encoding of its zero value
}

var resourceFields = fieldsOf(reflect.TypeFor[Resource]())

func fieldsOf(t reflect.Type) []answerField {
	var out []answerField
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		key, _ := json.Marshal(name)
		zero, _ := json.Marshal(reflect.Zero(sf.Type).Interface())
		out = append(out, answerField{name: name, key: append(key, ':'), omitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty"), zero: zero})
	}
	return out
}

// emptyJSON reports whether an encoded value is one omitempty leaves out.
func emptyJSON(v []byte) bool {
	switch string(v) {
	case `""`, `0`, `false`, `null`, `[]`, `{}`:
		return true
	}
	return false
}
