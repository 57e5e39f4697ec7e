package tre

import "time"

// ResourceType discriminates the four kinds of resource, and of template.
type ResourceType string

// Resource types, with AzureTRE's wire values.
const (
	TypeWorkspace        ResourceType = "workspace"
	TypeWorkspaceService ResourceType = "workspace-service"
	TypeUserResource     ResourceType = "user-resource"
	TypeSharedService    ResourceType = "shared-service"
)

// ResourceTypes lists every resource type.
var ResourceTypes = []ResourceType{TypeWorkspace, TypeWorkspaceService, TypeUserResource, TypeSharedService}

// Valid reports whether t is one of the four resource types.
func (t ResourceType) Valid() bool {
	switch t {
	case TypeWorkspace, TypeWorkspaceService, TypeUserResource, TypeSharedService:
		return true
	}
	return false
}

// Resource is a workspace, workspace service, user resource or shared
// service: the desired state an admin asked for, plus what the bundle
// reported back (outputs merged into Properties, DeploymentStatus).
//
// The JSON is the stored document, with AzureTRE's field names (as in its
// Resources container). Type-specific fields are empty for the other types
// and omitted. The API answers with its own type, which leaves out the
// bookkeeping fields (SecretRefs, LastOperationID, LastStepID).
type Resource struct {
	ID               string         `json:"id"`
	TemplateName     string         `json:"templateName"`
	TemplateVersion  string         `json:"templateVersion"`
	Properties       map[string]any `json:"properties"`
	IsEnabled        bool           `json:"isEnabled"`
	ResourceType     ResourceType   `json:"resourceType"`
	DeploymentStatus Status         `json:"deploymentStatus"`
	ETag             string         `json:"_etag,omitempty"`
	ResourcePath     string         `json:"resourcePath"`
	ResourceVersion  int            `json:"resourceVersion"`
	User             User           `json:"user"`
	UpdatedWhen      float64        `json:"updatedWhen"`

	// Workspace services and user resources.
	WorkspaceID string `json:"workspaceId,omitempty"`
	// User resources.
	ParentWorkspaceServiceID string `json:"parentWorkspaceServiceId,omitempty"`
	OwnerID                  string `json:"ownerId,omitempty"`

	// SecretRefs maps the JSON pointer of each sensitive property (whose
	// value in Properties is "REDACTED") to its name in the secret store.
	SecretRefs map[string]string `json:"secretRefs,omitempty"`
	// LastOperationID and LastStepID name the operation (and pipeline step)
	// that wrote this version: re-applying the same change after a crash is
	// recognised and skipped.
	LastOperationID string `json:"lastOperationId,omitempty"`
	LastStepID      string `json:"lastStepId,omitempty"`

	// PipelineEgress holds the firewall rules this resource's pipeline
	// steps asked of AzureTRE's firewall shared service (its
	// rule_collections and network_rule_collections, merged by the steps'
	// array actions): the firewall service applies them as this
	// resource's egress (see FirewallTemplateName).
	PipelineEgress map[string]any `json:"pipelineEgress,omitempty"`
}

// FirewallTemplateName is the template name of AzureTRE's firewall shared
// service. Here the firewall is a service of the control plane: a shared
// service of this name is a built-in record of it (IsBuiltInFirewall),
// never a bundle, and a pipeline step that updates it becomes egress of
// the resource whose operation runs the step.
const FirewallTemplateName = "tre-shared-service-firewall"

// IsBuiltInFirewall reports whether r is the built-in record of the
// firewall service.
func (r *Resource) IsBuiltInFirewall() bool {
	return r.ResourceType == TypeSharedService && r.TemplateName == FirewallTemplateName
}

// Active reports whether the resource has not been deleted.
func (r *Resource) Active() bool { return r.DeploymentStatus != StatusDeleted }

// Installed reports whether the resource's bundle is installed: an install
// succeeded and no uninstall has started since. Only installed resources
// can be upgraded by running their bundle, or hold children.
func (r *Resource) Installed() bool {
	switch r.DeploymentStatus {
	case StatusDeployed, StatusAwaitingUpdate, StatusUpdating, StatusUpdated, StatusUpdatingFailed,
		StatusAwaitingAction, StatusInvokingAction, StatusActionSucceeded, StatusActionFailed:
		return true
	}
	return false
}

// ResourcePath builds a resource path: /workspaces/{id}, …/workspace-services/{id},
// …/user-resources/{id}, /shared-services/{id}.
func ResourcePath(t ResourceType, workspaceID, serviceID, id string) string {
	switch t {
	case TypeWorkspace:
		return "/workspaces/" + id
	case TypeWorkspaceService:
		return "/workspaces/" + workspaceID + "/workspace-services/" + id
	case TypeUserResource:
		return "/workspaces/" + workspaceID + "/workspace-services/" + serviceID + "/user-resources/" + id
	default:
		return "/shared-services/" + id
	}
}

// SetETag records the store's version tag of the document r was read from.
func (r *Resource) SetETag(etag string) { r.ETag = etag }

// AvailableUpgrade is a registered template version a resource may move
// to; a major upgrade needs ForceUpdateRequired (AzureTRE's
// availableUpgrades, computed on read, never stored).
type AvailableUpgrade struct {
	Version             string
	ForceUpdateRequired bool
}

// ResourceHistoryItem is a snapshot of a resource taken before each accepted
// change (AzureTRE's ResourceHistory container, partitioned by resourceId).
type ResourceHistoryItem struct {
	ID              string         `json:"id"`
	ResourceID      string         `json:"resourceId"`
	Properties      map[string]any `json:"properties"`
	IsEnabled       bool           `json:"isEnabled"`
	ResourceVersion int            `json:"resourceVersion"`
	UpdatedWhen     float64        `json:"updatedWhen"`
	User            User           `json:"user"`
	TemplateVersion string         `json:"templateVersion"`
}

// Timestamp converts t to AzureTRE's wire format: POSIX seconds as a float.
func Timestamp(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
