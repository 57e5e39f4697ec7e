package tre

// Operation is one mutation of a resource (install, upgrade, uninstall or a
// custom action) as a list of ordered steps, each run by the Resource
// Processor on one resource. The JSON shape is AzureTRE's, with our own
// additions listed below the AzureTRE fields.
type Operation struct {
	ID              string          `json:"id"`
	ResourceID      string          `json:"resourceId"`
	ResourcePath    string          `json:"resourcePath"`
	ResourceVersion int             `json:"resourceVersion"`
	Status          Status          `json:"status"`
	Action          string          `json:"action"`
	Message         string          `json:"message"`
	CreatedWhen     float64         `json:"createdWhen"`
	UpdatedWhen     float64         `json:"updatedWhen"`
	User            User            `json:"user"`
	Steps           []OperationStep `json:"steps"`
	ETag            string          `json:"_etag,omitempty"`
}

// SetETag records the store's version tag of the document o was read from.
func (o *Operation) SetETag(etag string) { o.ETag = etag }

// OperationStep is one step of an operation: one bundle action on one
// resource, sent to the Resource Processor as one request message whose
// message id is the step id.
type OperationStep struct {
	ID                       string       `json:"id"`
	TemplateStepID           string       `json:"templateStepId"`
	StepTitle                string       `json:"stepTitle"`
	ResourceID               string       `json:"resourceId"`
	ResourceTemplateName     string       `json:"resourceTemplateName"`
	ResourceType             ResourceType `json:"resourceType"`
	ResourceAction           string       `json:"resourceAction"`
	Status                   Status       `json:"status"`
	Message                  string       `json:"message"`
	UpdatedWhen              float64      `json:"updatedWhen"`
	SourceTemplateResourceID string       `json:"sourceTemplateResourceId"`
}
