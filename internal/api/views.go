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
// service, with the fields of AzureTRE's model of its type: every
// resource has availableUpgrades (a list, empty when there is none); a
// workspace has workspaceURL; a workspace service workspaceId; a user
// resource workspaceId, parentWorkspaceServiceId, ownerId and azureStatus.
type Resource struct {
	ID                string             `json:"id"`
	TemplateName      string             `json:"templateName"`
	TemplateVersion   string             `json:"templateVersion"`
	Properties        map[string]any     `json:"properties"`
	AvailableUpgrades []AvailableUpgrade `json:"availableUpgrades"`
	IsEnabled         bool               `json:"isEnabled"`
	ResourceType      tre.ResourceType   `json:"resourceType"`
	DeploymentStatus  tre.Status         `json:"deploymentStatus"`
	ETag              string             `json:"_etag,omitempty"`
	ResourcePath      string             `json:"resourcePath"`
	ResourceVersion   int                `json:"resourceVersion"`
	User              tre.User           `json:"user"`
	UpdatedWhen       float64            `json:"updatedWhen"`
	// Workspaces: AzureTRE's main endpoint for workspace users, "" as
	// AzureTRE leaves it.
	WorkspaceURL *string `json:"workspaceURL,omitempty"`
	// Workspace services and user resources.
	WorkspaceID *string `json:"workspaceId,omitempty"`
	// User resources.
	ParentWorkspaceServiceID *string `json:"parentWorkspaceServiceId,omitempty"`
	OwnerID                  *string `json:"ownerId,omitempty"`
	// AzureStatus is AzureTRE's power state of a user resource's VM; it is
	// read from Azure there, and empty here (the control plane does not
	// query Azure for it).
	AzureStatus json.RawMessage `json:"azureStatus,omitempty"`
}

// AvailableUpgrade is a template version a resource may move to.
type AvailableUpgrade struct {
	Version             string `json:"version"`
	ForceUpdateRequired bool   `json:"forceUpdateRequired"`
}

func resourceOf(r *tre.Resource, ups []tre.AvailableUpgrade) Resource {
	out := Resource{
		ID: r.ID, TemplateName: r.TemplateName, TemplateVersion: r.TemplateVersion, Properties: r.Properties,
		AvailableUpgrades: upgradesOf(ups), IsEnabled: r.IsEnabled, ResourceType: r.ResourceType,
		DeploymentStatus: r.DeploymentStatus, ETag: r.ETag, ResourcePath: r.ResourcePath, ResourceVersion: r.ResourceVersion,
		User: r.User, UpdatedWhen: r.UpdatedWhen,
	}
	str := func(s string) *string { return &s }
	switch r.ResourceType {
	case tre.TypeWorkspace:
		out.WorkspaceURL = str("")
	case tre.TypeWorkspaceService:
		out.WorkspaceID = str(r.WorkspaceID)
	case tre.TypeUserResource:
		out.WorkspaceID, out.ParentWorkspaceServiceID, out.OwnerID = str(r.WorkspaceID), str(r.ParentWorkspaceServiceID), str(r.OwnerID)
		out.AzureStatus = json.RawMessage("{}")
	}
	return out
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
// as secretRefs, is never copied), _etag and availableUpgrades are added,
// and the fields resourceOf sets by type are set alike (typedFields);
// props, if not nil, are the properties in place of the stored ones.
// The fields come in Resource's order, a missing member gives the field's
// zero value, and an omitempty field with an empty value is left out, as
// encoding/json does. TestListedAnswerIsResourceOf holds it equal to
// resourceOf's answer.
func appendResource(b []byte, l *lifecycle.Listed, ups, props json.RawMessage) []byte {
	// The stored value of each answer field, found in one pass.
	var stored [maxResourceFields]json.RawMessage
	for _, m := range l.Members {
		if i, ok := resourceFieldIndex[m.Name]; ok {
			stored[i] = m.Value
		}
	}
	b = append(b, '{')
	first := true
	for i, f := range resourceFields {
		v, ok := listedField(f, l, stored[i], ups, props)
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.key...)
		b = append(b, v...)
	}
	return append(b, '}')
}

// listedField is the encoded value of answer field f for a listed
// resource whose stored value of it is stored (nil: none), and whether
// the answer has the field at all.
func listedField(f answerField, l *lifecycle.Listed, stored, ups, props json.RawMessage) ([]byte, bool) {
	switch f.name {
	case "_etag":
		return quoteJSON(l.ETag), l.ETag != ""
	case "availableUpgrades":
		if ups == nil {
			return []byte(`[]`), true
		}
		return ups, true
	case "properties":
		if props != nil {
			return props, true
		}
	}
	if set := f.typed; set != nil {
		// resourceOf sets these for some types only, even when empty.
		if !slices.Contains(set.types, l.ResourceType) {
			return nil, false
		}
		if set.value != nil {
			return set.value, true
		}
		if stored != nil {
			return stored, true
		}
		return []byte(`""`), true
	}
	if stored == nil {
		stored = f.zero
	}
	return stored, !(f.omitEmpty && emptyJSON(stored))
}

// typedFields are the answer fields resourceOf sets by resource type:
// for those types a fixed value, or the stored one ("" when none); absent
// for the others.
var typedFields = map[string]*typedField{
	"workspaceURL":             {types: []tre.ResourceType{tre.TypeWorkspace}, value: json.RawMessage(`""`)},
	"workspaceId":              {types: []tre.ResourceType{tre.TypeWorkspaceService, tre.TypeUserResource}},
	"parentWorkspaceServiceId": {types: []tre.ResourceType{tre.TypeUserResource}},
	"ownerId":                  {types: []tre.ResourceType{tre.TypeUserResource}},
	"azureStatus":              {types: []tre.ResourceType{tre.TypeUserResource}, value: json.RawMessage(`{}`)},
}

type typedField struct {
	types []tre.ResourceType
	value json.RawMessage
}

// answerField is a field of an answer type as encoding/json writes it.
type answerField struct {
	name      string
	key       []byte // "name":
	omitEmpty bool
	zero      json.RawMessage // the encoding of its zero value
	typed     *typedField     // typedFields' entry, if any
}

// resourceFields are Resource's fields; resourceFieldIndex gives the
// index of each by name.
var resourceFields, resourceFieldIndex = fieldsOf(reflect.TypeFor[Resource]())

// maxResourceFields bounds len(resourceFields) (a test checks it).
const maxResourceFields = 32

func fieldsOf(t reflect.Type) ([]answerField, map[string]int) {
	var out []answerField
	index := map[string]int{}
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
		index[name] = len(out)
		out = append(out, answerField{name: name, key: append(key, ':'), omitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty"),
			zero: zero, typed: typedFields[name]})
	}
	return out, index
}

// quoteJSON is json.Marshal of a string, without reflection for the
// plain ones (an etag is a UUID).
func quoteJSON(s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			v, _ := json.Marshal(s)
			return v
		}
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// emptyJSON reports whether an encoded value is one omitempty leaves out.
func emptyJSON(v []byte) bool {
	switch string(v) {
	case `""`, `0`, `false`, `null`, `[]`, `{}`:
		return true
	}
	return false
}

// AirlockRequest is an airlock request (AzureTRE's shape): the stored
// request without the processor's bookkeeping.
type AirlockRequest struct {
	ID                    string                               `json:"id"`
	ResourceVersion       int                                  `json:"resourceVersion"`
	CreatedBy             tre.User                             `json:"createdBy"`
	CreatedWhen           float64                              `json:"createdWhen"`
	UpdatedBy             tre.User                             `json:"updatedBy"`
	UpdatedWhen           float64                              `json:"updatedWhen"`
	History               []AirlockHistoryItem                 `json:"history"`
	WorkspaceID           string                               `json:"workspaceId"`
	Type                  tre.AirlockType                      `json:"type"`
	Files                 []AirlockFile                        `json:"files"`
	Title                 string                               `json:"title"`
	BusinessJustification string                               `json:"businessJustification"`
	Status                tre.AirlockStatus                    `json:"status"`
	StatusMessage         *string                              `json:"statusMessage"`
	Reviews               []AirlockReview                      `json:"reviews"`
	ETag                  string                               `json:"_etag"`
	ReviewUserResources   map[string]AirlockReviewUserResource `json:"reviewUserResources"`
}

// AirlockRequestWithActions is a request with what the caller may do with
// it (AzureTRE's AirlockRequestWithAllowedUserActions).
type AirlockRequestWithActions struct {
	AirlockRequest     AirlockRequest `json:"airlockRequest"`
	AllowedUserActions []string       `json:"allowedUserActions"`
}

// AirlockFile is one file of a request.
type AirlockFile struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// AirlockReview is an airlock manager's decision.
type AirlockReview struct {
	ID                  string              `json:"id"`
	Reviewer            tre.User            `json:"reviewer"`
	DateCreated         float64             `json:"dateCreated"`
	ReviewDecision      tre.AirlockDecision `json:"reviewDecision"`
	DecisionExplanation string              `json:"decisionExplanation"`
}

// AirlockHistoryItem is a request as it was before one of its changes.
type AirlockHistoryItem struct {
	ResourceVersion int            `json:"resourceVersion"`
	UpdatedWhen     float64        `json:"updatedWhen"`
	UpdatedBy       tre.User       `json:"updatedBy"`
	Properties      map[string]any `json:"properties"`
}

// AirlockReviewUserResource names a review VM.
type AirlockReviewUserResource struct {
	WorkspaceID        string `json:"workspaceId"`
	WorkspaceServiceID string `json:"workspaceServiceId"`
	UserResourceID     string `json:"userResourceId"`
}

func airlockRequestOf(r *tre.AirlockRequest) AirlockRequest {
	out := AirlockRequest{ID: r.ID, ResourceVersion: r.ResourceVersion, CreatedBy: r.CreatedBy, CreatedWhen: r.CreatedWhen,
		UpdatedBy: r.UpdatedBy, UpdatedWhen: r.UpdatedWhen, WorkspaceID: r.WorkspaceID, Type: r.Type, Title: r.Title,
		BusinessJustification: r.BusinessJustification, Status: r.Status, ETag: r.ETag,
		History: make([]AirlockHistoryItem, len(r.History)), Files: make([]AirlockFile, len(r.Files)),
		Reviews: make([]AirlockReview, len(r.Reviews)), ReviewUserResources: map[string]AirlockReviewUserResource{}}
	if r.StatusMessage != "" {
		msg := r.StatusMessage
		out.StatusMessage = &msg
	}
	for i, h := range r.History {
		out.History[i] = AirlockHistoryItem{ResourceVersion: h.ResourceVersion, UpdatedWhen: h.UpdatedWhen, UpdatedBy: h.UpdatedBy, Properties: h.Properties}
	}
	for i, f := range r.Files {
		out.Files[i] = AirlockFile{Name: f.Name, Size: f.Size}
	}
	for i, rv := range r.Reviews {
		out.Reviews[i] = AirlockReview{ID: rv.ID, Reviewer: rv.Reviewer, DateCreated: rv.DateCreated, ReviewDecision: rv.ReviewDecision,
			DecisionExplanation: rv.DecisionExplanation}
	}
	for k, v := range r.ReviewUserResources {
		out.ReviewUserResources[k] = AirlockReviewUserResource{WorkspaceID: v.WorkspaceID, WorkspaceServiceID: v.WorkspaceServiceID, UserResourceID: v.UserResourceID}
	}
	return out
}
