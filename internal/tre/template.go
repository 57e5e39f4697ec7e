package tre

// Template is one registered version of a Porter bundle's template: its
// parameters' JSON Schema, custom actions and pipeline.
//
// The stored document keeps the registered schema whole (minus $schema and
// $id). The API answers with AzureTRE's flattened, enriched shape, built from
// this by the schema package.
type Template struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	ResourceType ResourceType `json:"resourceType"`
	// ParentWorkspaceService is the workspace-service template name a
	// user-resource template hangs under; empty for other kinds.
	ParentWorkspaceService string `json:"parentWorkspaceService,omitempty"`
	Title                  string `json:"title"`
	Description            string `json:"description"`
	// Schema is the registered JSON Schema of the template's parameters.
	Schema        map[string]any `json:"schema"`
	CustomActions []CustomAction `json:"customActions"`
	Pipeline      *Pipeline      `json:"pipeline,omitempty"`
	// Egress declares the firewall rules resources of this template need:
	// AzureTRE's rule_collections and network_rule_collections, with
	// {{ resource.… }} substitutions (see package firewall).
	Egress map[string]any `json:"egress,omitempty"`
	// MinimumParentVersion is the lowest version of the parent's template
	// (the workspace's, for a workspace service; the workspace service's,
	// for a user resource) that resources of this version may sit under:
	// creation and upgrade refuse below it. Empty: any.
	MinimumParentVersion string `json:"minimumParentVersion,omitempty"`
	// Bundle is the declaration of the bundle the version was registered
	// from (the porter explain members of the registration): nil when the
	// registration had none.
	Bundle *BundleDeclaration `json:"bundle,omitempty"`

	RegisteredWhen float64 `json:"registeredWhen"`
	RegisteredBy   User    `json:"registeredBy"`

	// Deprecated versions stay readable and keep serving the resources made
	// from them, but no new resource can be created from, or upgraded to, them.
	Deprecated        bool    `json:"deprecated"`
	DeprecatedWhen    float64 `json:"deprecatedWhen,omitempty"`
	DeprecatedBy      *User   `json:"deprecatedBy,omitempty"`
	DeprecationReason string  `json:"deprecationReason,omitempty"`

	// Current is derived from the template name's pointer document when the
	// template is read; the stored value is not authoritative.
	Current bool   `json:"current"`
	ETag    string `json:"_etag,omitempty"`
}

// SetETag records the store's version tag of the document t was read from.
func (t *Template) SetETag(etag string) { t.ETag = etag }

// AuthorizedRoles returns the schema's authorizedRoles: the roles allowed to
// create resources from this template (empty means everyone who may create).
func (t *Template) AuthorizedRoles() []string {
	return stringList(t.Schema["authorizedRoles"])
}

// CustomAction is a bundle action other than install, upgrade and uninstall,
// as `porter explain` lists it.
type CustomAction struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// TemplateName is the pointer document of one template name: which of its
// versions is current. One small document changed with its etag keeps
// "exactly one current version" true even when two admins race or a writer
// crashes half-way. A name without a pointer document has its first
// registered version as current.
type TemplateName struct {
	ID                     string       `json:"id"`
	Name                   string       `json:"name"`
	ResourceType           ResourceType `json:"resourceType"`
	ParentWorkspaceService string       `json:"parentWorkspaceService,omitempty"`
	CurrentVersion         string       `json:"currentVersion"`
	UpdatedWhen            float64      `json:"updatedWhen"`
	UpdatedBy              User         `json:"updatedBy"`
	ETag                   string       `json:"_etag,omitempty"`
}

// SetETag records the store's version tag of the document n was read from.
func (n *TemplateName) SetETag(etag string) { n.ETag = etag }

// Pipeline lists, per built-in action, the ordered steps of an operation
// that the template's resource starts: the "main" step on the resource
// itself, and steps that update other resources (AzureTRE's pipelines).
type Pipeline struct {
	Install   []PipelineStep `json:"install,omitempty"`
	Upgrade   []PipelineStep `json:"upgrade,omitempty"`
	Uninstall []PipelineStep `json:"uninstall,omitempty"`
}

// Steps returns the pipeline's steps for action, nil if none.
func (p *Pipeline) Steps(action string) []PipelineStep {
	if p == nil {
		return nil
	}
	switch action {
	case ActionInstall:
		return p.Install
	case ActionUpgrade:
		return p.Upgrade
	case ActionUninstall:
		return p.Uninstall
	}
	return nil
}

// MainStepID is the stepId of the step that runs the resource's own bundle.
const MainStepID = "main"

// PipelineStep is one step of a template's pipeline.
type PipelineStep struct {
	StepID               string                 `json:"stepId"`
	StepTitle            string                 `json:"stepTitle,omitempty"`
	ResourceTemplateName string                 `json:"resourceTemplateName,omitempty"`
	ResourceType         ResourceType           `json:"resourceType,omitempty"`
	ResourceAction       string                 `json:"resourceAction,omitempty"`
	Properties           []PipelineStepProperty `json:"properties,omitempty"`
}

// PipelineStepProperty sets one property of a pipeline step's target, with
// {{ resource.… }} substitutions; arrays are merged by ArraySubstitutionAction.
type PipelineStepProperty struct {
	Name                    string `json:"name"`
	Type                    string `json:"type"`
	Value                   any    `json:"value"`
	ArraySubstitutionAction string `json:"arraySubstitutionAction,omitempty"`
	ArrayMatchField         string `json:"arrayMatchField,omitempty"`
}

func stringList(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// DeclaresEgress reports whether a resource has egress rules for the
// firewall: its template t declares some, or its bundle reported some (the
// EgressOutput output).
func DeclaresEgress(t *Template, r *Resource) bool {
	if t != nil && len(t.Egress) > 0 {
		return true
	}
	_, ok := r.Properties[EgressOutput]
	return ok
}
