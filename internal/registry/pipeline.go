package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tre-go/tre/internal/tre"
)

// parsePipeline decodes and checks the "pipeline" member of a template
// schema. owner is the type of the template that declares it.
// Returns CodeInvalid for a malformed pipeline and CodeUnprocessable for
// duplicate step ids (AzureTRE's 422).
func parsePipeline(owner tre.ResourceType, raw any) (*tre.Pipeline, error) {
	if raw == nil {
		return nil, nil
	}
	if _, ok := raw.(map[string]any); !ok {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "json_schema.pipeline", "pipeline must be an object with install, upgrade and uninstall lists")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "pipeline cannot be read")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p tre.Pipeline
	if err := dec.Decode(&p); err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "Invalid pipeline: %s (allowed: install, upgrade, uninstall lists of steps with stepId, stepTitle, resourceTemplateName, resourceType, resourceAction, properties)", jsonErrorText(err))
	}
	seen := map[string]string{} // non-main stepId -> action
	for _, action := range []string{tre.ActionInstall, tre.ActionUpgrade, tre.ActionUninstall} {
		mains := 0
		for i, step := range p.Steps(action) {
			field := fmt.Sprintf("json_schema.pipeline.%s[%d]", action, i)
			if step.StepID == "" {
				return nil, tre.FieldErrorf(tre.CodeInvalid, field+".stepId", "every pipeline step needs a stepId")
			}
			if step.StepID == tre.MainStepID {
				mains++
				if mains > 1 {
					return nil, duplicateStep(field, step.StepID)
				}
				continue
			}
			if _, dup := seen[step.StepID]; dup {
				return nil, duplicateStep(field, step.StepID)
			}
			seen[step.StepID] = action
			if err := checkStep(owner, field, step); err != nil {
				return nil, err
			}
		}
	}
	return &p, nil
}

func duplicateStep(field, id string) error {
	return tre.FieldErrorf(tre.CodeUnprocessable, field+".stepId", "Invalid template - duplicate stepIds are not allowed. stepId: %s", id)
}

// allowedTargets: the resource types a pipeline step of a template of the
// key type may change (AzureTRE resolves "workspace" to the parent workspace
// and "workspace-service" to the parent service, with or without a
// resourceTemplateName).
var allowedTargets = map[tre.ResourceType][]tre.ResourceType{
	tre.TypeWorkspace:        {tre.TypeSharedService},
	tre.TypeWorkspaceService: {tre.TypeSharedService, tre.TypeWorkspace},
	tre.TypeUserResource:     {tre.TypeSharedService, tre.TypeWorkspace, tre.TypeWorkspaceService},
	tre.TypeSharedService:    {tre.TypeSharedService},
}

var arrayActions = []string{"", "overwrite", "append", "replace", "remove"}

func checkStep(owner tre.ResourceType, field string, s tre.PipelineStep) error {
	if !slices.Contains(allowedTargets[owner], s.ResourceType) {
		return tre.FieldErrorf(tre.CodeInvalid, field+".resourceType",
			"step %s: a %s template's pipeline can change resources of type %v, not %q", s.StepID, owner, allowedTargets[owner], s.ResourceType)
	}
	// A workspace or workspace-service step changes the parent of that
	// type, whatever template it has (AzureTRE's build_step_list); a
	// shared service is found by its template name.
	if s.ResourceTemplateName == "" && s.ResourceType == tre.TypeSharedService {
		return tre.FieldErrorf(tre.CodeInvalid, field+".resourceTemplateName",
			"step %s needs a resourceTemplateName: the shared service it changes is found by its template name", s.StepID)
	}
	if s.ResourceAction != "" && s.ResourceAction != tre.ActionUpgrade {
		return tre.FieldErrorf(tre.CodeInvalid, field+".resourceAction",
			"step %s: only the upgrade action is supported on other resources, not %q", s.StepID, s.ResourceAction)
	}
	for j, p := range s.Properties {
		pf := fmt.Sprintf("%s.properties[%d]", field, j)
		if p.Name == "" {
			return tre.FieldErrorf(tre.CodeInvalid, pf+".name", "step %s: every property needs a name", s.StepID)
		}
		if p.Type == "" {
			return tre.FieldErrorf(tre.CodeInvalid, pf+".type", "step %s: property %s needs a type", s.StepID, p.Name)
		}
		if !slices.Contains(arrayActions, p.ArraySubstitutionAction) {
			return tre.FieldErrorf(tre.CodeInvalid, pf+".arraySubstitutionAction",
				"step %s: property %s: arraySubstitutionAction must be one of overwrite, append, replace, remove", s.StepID, p.Name)
		}
		if (p.ArraySubstitutionAction == "replace" || p.ArraySubstitutionAction == "remove") && p.ArrayMatchField == "" {
			return tre.FieldErrorf(tre.CodeInvalid, pf+".arrayMatchField",
				"step %s: property %s: %s needs an arrayMatchField", s.StepID, p.Name, p.ArraySubstitutionAction)
		}
	}
	return nil
}

// jsonErrorText turns a decoding error into a short text that names the
// field when the decoder knows it.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s must be %s, not %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}
