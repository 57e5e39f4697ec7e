// Package registry is the template registry: it registers versions of the
// four kinds of template, keeps which version of each name is current, lets
// an admin move "current" and deprecate versions, and answers the template
// reads of the API in AzureTRE's shapes.
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/schema"
	"github.com/tre-go/tre/internal/tre"
)

// Registry registers and reads templates in a tre.Store. Its reads of a
// template name are served from memory for up to CacheTTL.
type Registry struct {
	store tre.Store
	now   func() time.Time
	cache templateCache
}

// New returns a registry on store; now is the clock (time.Now if nil).
func New(store tre.Store, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{store: store, now: now}
}

// Kind names a family of templates: a resource type and, for user-resource
// templates, the workspace-service template they hang under.
type Kind struct {
	Type   tre.ResourceType
	Parent string
}

func (k Kind) String() string {
	if k.Parent != "" {
		return fmt.Sprintf("%s template of %s", k.Type, k.Parent)
	}
	return string(k.Type) + " template"
}

// Registration is the body of a register request: AzureTRE's
// ResourceTemplateInCreate as AzureTRE's registration script
// (devops/scripts/register_bundle_with_api.sh) sends it: the bundle's
// `porter explain -o json` document with json_schema, resourceType and
// current added. Other members are ignored.
type Registration struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Current makes the version current. The script sends it as the
	// string "true" or "false"; AzureTRE's pydantic model coerces strings
	// (and 0 and 1) to a boolean, and so does UnmarshalJSON.
	Current       bool               `json:"current"`
	JSONSchema    map[string]any     `json:"json_schema"`
	CustomActions []tre.CustomAction `json:"customActions"`
	// ResourceType is the script's bundle type: workspace,
	// workspace_service, user_resource or shared_service (the API's
	// spellings, workspace-service, ..., are accepted too). When given, it
	// must be the kind of the route. AzureTRE ignores it.
	ResourceType string `json:"resourceType,omitempty"`

	// The rest of porter explain: the bundle's declaration, kept with the
	// version (tre.Template.Bundle) for the processor and the local
	// simulation of bundles. Description is the bundle's; the template's
	// comes from json_schema.
	Description string                       `json:"description,omitempty"`
	Parameters  []bundle.ExplainedParameter  `json:"parameters,omitempty"`
	Credentials []bundle.ExplainedCredential `json:"credentials,omitempty"`
	Outputs     []bundle.ExplainedOutput     `json:"outputs,omitempty"`
	Mixins      []string                     `json:"mixins,omitempty"`

	// currentProblem is set by UnmarshalJSON when current is not a
	// boolean AzureTRE would accept; Register reports it.
	currentProblem string
}

// UnmarshalJSON decodes a registration, reading current as AzureTRE's
// pydantic model does: a JSON boolean, 0 or 1, or one of the strings true,
// false, yes, no, on, off, t, f, y, n, 1, 0 (any case).
func (r *Registration) UnmarshalJSON(b []byte) error {
	// current is taken out before the rest is decoded, so that errors of
	// the other members name them as the client sent them.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	raw := bytes.TrimSpace(members["current"])
	delete(members, "current")
	rest, err := json.Marshal(members)
	if err != nil {
		return err
	}
	type plain Registration
	if err := json.Unmarshal(rest, (*plain)(r)); err != nil {
		return err
	}
	r.Current, r.currentProblem = false, ""
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		r.Current = x
		return nil
	case float64:
		if x == 0 || x == 1 {
			r.Current = x == 1
			return nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "t", "yes", "y", "on", "1":
			r.Current = true
			return nil
		case "false", "f", "no", "n", "off", "0":
			return nil
		}
	}
	r.currentProblem = string(raw)
	return nil
}

// BundleDeclaration returns what the registration says of the bundle (the
// porter explain members), nil when it says nothing.
func (r Registration) BundleDeclaration() *tre.BundleDeclaration {
	if r.Description == "" && len(r.Parameters) == 0 && len(r.Credentials) == 0 && len(r.Outputs) == 0 && len(r.Mixins) == 0 {
		return nil
	}
	return bundle.Explanation{
		Name: r.Name, Version: r.Version, Description: r.Description,
		Parameters: r.Parameters, Credentials: r.Credentials, Outputs: r.Outputs, Mixins: r.Mixins,
	}.Declaration()
}

// resourceTypes are the spellings of each kind a registration's
// resourceType may use: AzureTRE's script's and the API's.
var resourceTypes = map[tre.ResourceType][]string{
	tre.TypeWorkspace:        {"workspace"},
	tre.TypeWorkspaceService: {"workspace_service", "workspace-service"},
	tre.TypeUserResource:     {"user_resource", "user-resource"},
	tre.TypeSharedService:    {"shared_service", "shared-service"},
}

// AzureTRE's texts.
const (
	msgTemplateNotFound = "Could not retrieve the template with this name, or name-version pair"
	msgParentNotFound   = "Could not retrieve the workspace service template specified"
	msgVersionExists    = "A template with the same version, or a newer version already exists"
)

var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) })
var actionPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// templateID is the id of one version's document: derived from what makes
// it unique, so that two registrations of the same version race on one id
// and the store's create tells them apart.
func templateID(k Kind, name, version string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:template:"+string(k.Type)+"/"+k.Parent+"/"+name+"/"+version)).String()
}

func pointerID(k Kind, name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:template-name:"+string(k.Type)+"/"+k.Parent+"/"+name)).String()
}

// Register validates and stores a new template version. It becomes current
// when reg.Current is set or when it is the first version of its name.
// Returns CodeInvalid (bad name, version, schema or pipeline; each error
// names the field), CodeUnprocessable (duplicate pipeline step ids),
// CodeNotFound (user-resource template whose parent has no current version),
// CodeConflict (the name and version exist).
func (r *Registry) Register(ctx context.Context, k Kind, reg Registration, by tre.User) (*tre.Template, error) {
	if err := checkRegistration(k, reg); err != nil {
		return nil, err
	}
	if k.Type == tre.TypeUserResource {
		if _, err := r.Current(ctx, Kind{Type: tre.TypeWorkspaceService}, k.Parent); err != nil {
			if tre.IsCode(err, tre.CodeNotFound) {
				return nil, tre.Errorf(tre.CodeNotFound, msgParentNotFound)
			}
			return nil, err
		}
	}
	s := schema.Normalize(reg.JSONSchema)
	pipeline, err := parsePipeline(k.Type, s["pipeline"])
	if err != nil {
		return nil, err
	}
	delete(s, "pipeline")
	egress, err := parseEgress(s["egress"])
	if err != nil {
		return nil, err
	}
	delete(s, "egress")
	minParent, err := parseMinimumParentVersion(k.Type, s["minimumParentVersion"])
	if err != nil {
		return nil, err
	}
	delete(s, "minimumParentVersion")
	if err := schema.Check(k.Type, s); err != nil {
		return nil, err
	}
	actions := reg.CustomActions
	if actions == nil {
		actions = []tre.CustomAction{}
	}
	now := r.now()
	t := &tre.Template{
		ID:                     templateID(k, reg.Name, reg.Version),
		Name:                   reg.Name,
		Version:                reg.Version,
		ResourceType:           k.Type,
		ParentWorkspaceService: k.Parent,
		Title:                  s["title"].(string),
		Description:            s["description"].(string),
		Schema:                 s,
		CustomActions:          actions,
		Pipeline:               pipeline,
		Egress:                 egress,
		MinimumParentVersion:   minParent,
		Bundle:                 reg.BundleDeclaration(),
		RegisteredWhen:         tre.Timestamp(now),
		RegisteredBy:           by,
	}
	etag, err := tre.CreateAs(ctx, r.store, tre.ResourceTemplates, t.ID, t)
	r.invalidate(k, reg.Name)
	if tre.IsCode(err, tre.CodeConflict) {
		return nil, tre.Errorf(tre.CodeConflict, msgVersionExists)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: register %s %s: %w", reg.Name, reg.Version, err)
	}
	t.ETag = etag
	if reg.Current {
		if err := r.setCurrent(ctx, k, reg.Name, reg.Version, by); err != nil {
			return nil, err
		}
	}
	return r.withCurrent(ctx, k, t)
}

func checkRegistration(k Kind, reg Registration) error {
	var problems []tre.FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, tre.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if reg.currentProblem != "" {
		add("current", "current must be true or false (a JSON boolean, or a string such as \"true\" as AzureTRE's registration script sends it), not %s", reg.currentProblem)
	}
	if reg.ResourceType != "" && !slices.Contains(resourceTypes[k.Type], reg.ResourceType) {
		add("resourceType", "resourceType %q does not match the route, which registers a %s (resourceType %s)", reg.ResourceType, k, resourceTypes[k.Type][0])
	}
	for i, p := range reg.Parameters {
		if p.Name == "" {
			add(fmt.Sprintf("parameters[%d].name", i), "every bundle parameter needs a name")
		}
	}
	for i, c := range reg.Credentials {
		if c.Name == "" {
			add(fmt.Sprintf("credentials[%d].name", i), "every bundle credential needs a name")
		}
	}
	for i, o := range reg.Outputs {
		if o.Name == "" {
			add(fmt.Sprintf("outputs[%d].name", i), "every bundle output needs a name")
		}
	}
	if !namePattern().MatchString(reg.Name) {
		add("name", "name must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if _, err := tre.ParseVersion(reg.Version); err != nil {
		add("version", "version %q is not a semantic version (MAJOR.MINOR.PATCH, as Porter bundles use)", reg.Version)
	}
	if reg.JSONSchema == nil {
		add("json_schema", "json_schema is required: the template's JSON Schema object")
	}
	seen := map[string]bool{}
	for i, a := range reg.CustomActions {
		f := fmt.Sprintf("customActions[%d].name", i)
		switch {
		case !actionPattern().MatchString(a.Name):
			add(f, "custom action name %q must be letters, digits, '.', '_' or '-'", a.Name)
		case a.Name == tre.ActionInstall || a.Name == tre.ActionUpgrade || a.Name == tre.ActionUninstall:
			add(f, "%q is a built-in action, not a custom one", a.Name)
		case seen[a.Name]:
			add(f, "custom action %q is listed twice", a.Name)
		}
		seen[a.Name] = true
	}
	return tre.InvalidFields("Invalid template", problems)
}

// Get returns one version of a template. Returns CodeNotFound.
func (r *Registry) Get(ctx context.Context, k Kind, name, version string) (*tre.Template, error) {
	s, err := r.snapshotOf(ctx, k, name)
	if err != nil {
		return nil, err
	}
	if t := s.version(version); t != nil {
		return s.view(t), nil
	}
	// Registered since the snapshot, by another instance, or not at all.
	t, err := r.getUncached(ctx, k, name, version)
	if err == nil {
		r.invalidate(k, name)
	}
	return t, err
}

// Declaration returns the bundle declaration registered with name and
// version, of whichever kind of template (a bundle's name and version
// name one bundle). Returns CodeNotFound when no template of that name and
// version was registered with one.
func (r *Registry) Declaration(ctx context.Context, name, version string) (*tre.BundleDeclaration, error) {
	all, err := tre.QueryAs[tre.Template](ctx, r.store, tre.ResourceTemplates, tre.Query{Where: []tre.Cond{
		tre.Eq("name", name), tre.Eq("version", version),
	}})
	if err != nil {
		return nil, fmt.Errorf("registry: declaration of %s %s: %w", name, version, err)
	}
	for _, t := range all {
		if t.Bundle != nil {
			return t.Bundle, nil
		}
	}
	return nil, tre.Errorf(tre.CodeNotFound, "No template %s %s was registered with its bundle's declaration (porter explain)", name, version)
}

// Current returns the current version of a template name, deprecated or
// not. Returns CodeNotFound.
func (r *Registry) Current(ctx context.Context, k Kind, name string) (*tre.Template, error) {
	s, err := r.snapshotOf(ctx, k, name)
	if err != nil {
		return nil, err
	}
	if t := s.version(s.current); t != nil {
		return s.view(t), nil
	}
	return nil, tre.Errorf(tre.CodeNotFound, msgTemplateNotFound)
}

// Versions returns every registered version of a name, lowest first.
// Returns CodeNotFound when there is none.
func (r *Registry) Versions(ctx context.Context, k Kind, name string) ([]*tre.Template, error) {
	s, err := r.snapshotOf(ctx, k, name)
	if err != nil {
		return nil, err
	}
	if len(s.versions) == 0 {
		return nil, tre.Errorf(tre.CodeNotFound, msgTemplateNotFound)
	}
	out := make([]*tre.Template, len(s.versions))
	for i, t := range s.versions {
		out[i] = s.view(t)
	}
	return out, nil
}

func (r *Registry) versions(ctx context.Context, k Kind, name string) ([]*tre.Template, error) {
	q := tre.Query{Where: []tre.Cond{tre.Eq("resourceType", string(k.Type)), tre.Eq("name", name)}}
	if k.Parent != "" {
		q.Where = append(q.Where, tre.Eq("parentWorkspaceService", k.Parent))
	}
	all, err := tre.QueryAs[tre.Template](ctx, r.store, tre.ResourceTemplates, q)
	if err != nil {
		return nil, fmt.Errorf("registry: versions of %s: %w", name, err)
	}
	return all, nil
}

// List returns the current version of every template name of a kind,
// leaving out names whose current version is deprecated.
func (r *Registry) List(ctx context.Context, k Kind) ([]*tre.Template, error) {
	q := tre.Query{Where: []tre.Cond{tre.Eq("resourceType", string(k.Type))}}
	if k.Type == tre.TypeUserResource {
		q.Where = append(q.Where, tre.Eq("parentWorkspaceService", k.Parent))
	}
	all, err := tre.QueryAs[tre.Template](ctx, r.store, tre.ResourceTemplates, q)
	if err != nil {
		return nil, fmt.Errorf("registry: list %s: %w", k, err)
	}
	pointers, err := tre.QueryAs[tre.TemplateName](ctx, r.store, tre.TemplateNames, tre.Query{Where: q.Where})
	if err != nil {
		return nil, fmt.Errorf("registry: list %s: %w", k, err)
	}
	currentOf := map[string]string{}
	for _, p := range pointers {
		currentOf[p.Name] = p.CurrentVersion
	}
	byName := map[string][]*tre.Template{}
	for _, t := range all {
		byName[t.Name] = append(byName[t.Name], t)
	}
	var out []*tre.Template
	for name, versions := range byName {
		current, ok := currentOf[name]
		if !ok {
			current = earliest(versions)
		}
		for _, t := range versions {
			if t.Version == current && !t.Deprecated {
				t.Current = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Update is an admin's change to one version: make it current, deprecate
// it, or lift a deprecation. Nil fields are left alone.
type Update struct {
	Current           *bool   `json:"current"`
	Deprecated        *bool   `json:"deprecated"`
	DeprecationReason *string `json:"deprecationReason"`
}

// UpdateVersion applies an admin's Update to one version.
// Returns CodeNotFound, CodeInvalid (current: false, an empty update),
// CodeConflict (making a deprecated version current).
func (r *Registry) UpdateVersion(ctx context.Context, k Kind, name, version string, u Update, by tre.User) (*tre.Template, error) {
	if err := checkUpdate(u); err != nil {
		return nil, err
	}
	if err := r.updateDeprecation(ctx, k, name, version, u, by); err != nil {
		return nil, err
	}
	if u.Current != nil {
		if err := r.setCurrent(ctx, k, name, version, by); err != nil {
			return nil, err
		}
	}
	r.invalidate(k, name)
	return r.Get(ctx, k, name, version)
}

// checkUpdate refuses an update that says nothing or cannot be applied
// whatever the version: current: false, a reason without deprecated: true.
func checkUpdate(u Update) error {
	if u.Current == nil && u.Deprecated == nil && u.DeprecationReason == nil {
		return tre.FieldErrorf(tre.CodeInvalid, "current", "nothing to change: give current: true, deprecated: true or deprecated: false")
	}
	if u.Current != nil && !*u.Current {
		return tre.FieldErrorf(tre.CodeInvalid, "current",
			"a version stops being current when another one is made current: set current: true on that version instead")
	}
	if u.DeprecationReason != nil && (u.Deprecated == nil || !*u.Deprecated) {
		return tre.FieldErrorf(tre.CodeInvalid, "deprecationReason", "deprecationReason goes with deprecated: true")
	}
	return nil
}

// updateDeprecation refuses to make a deprecated version current and
// records a change of the version's deprecation, retrying when another
// writer changed the version meanwhile.
func (r *Registry) updateDeprecation(ctx context.Context, k Kind, name, version string, u Update, by tre.User) error {
	for attempt := 0; ; attempt++ {
		t, err := tre.GetAs[tre.Template](ctx, r.store, tre.ResourceTemplates, templateID(k, name, version))
		if tre.IsCode(err, tre.CodeNotFound) {
			return tre.Errorf(tre.CodeNotFound, msgTemplateNotFound)
		}
		if err != nil {
			return fmt.Errorf("registry: update %s %s: %w", name, version, err)
		}
		deprecated := t.Deprecated
		if u.Deprecated != nil {
			deprecated = *u.Deprecated
		}
		if u.Current != nil && deprecated {
			return tre.Errorf(tre.CodeConflict, "Version %s of %s is deprecated: lift the deprecation (deprecated: false) before making it current", version, name)
		}
		if !(u.Deprecated != nil && *u.Deprecated != t.Deprecated || u.DeprecationReason != nil) {
			return nil
		}
		if deprecated {
			t.Deprecated, t.DeprecatedWhen, t.DeprecatedBy = true, tre.Timestamp(r.now()), &by
			if u.DeprecationReason != nil {
				t.DeprecationReason = *u.DeprecationReason
			}
		} else {
			t.Deprecated, t.DeprecatedWhen, t.DeprecatedBy, t.DeprecationReason = false, 0, nil, ""
		}
		_, err = tre.ReplaceAs(ctx, r.store, tre.ResourceTemplates, t.ID, t.ETag, t)
		r.invalidate(k, name)
		if tre.IsCode(err, tre.CodePreconditionFailed) && attempt < 10 {
			continue
		}
		if err != nil {
			return fmt.Errorf("registry: update %s %s: %w", name, version, err)
		}
		return nil
	}
}

// setCurrent points a name at version, creating the pointer on first use and
// retrying when another writer moved it meanwhile.
func (r *Registry) setCurrent(ctx context.Context, k Kind, name, version string, by tre.User) error {
	id := pointerID(k, name)
	for attempt := 0; attempt < 20; attempt++ {
		p, err := tre.GetAs[tre.TemplateName](ctx, r.store, tre.TemplateNames, id)
		switch {
		case tre.IsCode(err, tre.CodeNotFound):
			p = &tre.TemplateName{ID: id, Name: name, ResourceType: k.Type, ParentWorkspaceService: k.Parent}
		case err != nil:
			return fmt.Errorf("registry: set current %s: %w", name, err)
		}
		p.CurrentVersion, p.UpdatedWhen, p.UpdatedBy = version, tre.Timestamp(r.now()), by
		r.invalidate(k, name)
		if p.ETag == "" {
			_, err = tre.CreateAs(ctx, r.store, tre.TemplateNames, id, p)
			if tre.IsCode(err, tre.CodeConflict) {
				continue
			}
		} else {
			_, err = tre.ReplaceAs(ctx, r.store, tre.TemplateNames, id, p.ETag, p)
			if tre.IsCode(err, tre.CodePreconditionFailed) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("registry: set current %s: %w", name, err)
		}
		return nil
	}
	return tre.Errorf(tre.CodeUnavailable, "The current version of %s is changing too often: try again", name)
}

// currentVersion reads a name's pointer; a name without one has its first
// registered version as current (the pointer is written only when an admin
// moves "current", so a first registration is a single write).
func (r *Registry) currentVersion(ctx context.Context, k Kind, name string, versions []*tre.Template) (string, error) {
	p, err := tre.GetAs[tre.TemplateName](ctx, r.store, tre.TemplateNames, pointerID(k, name))
	if err == nil {
		return p.CurrentVersion, nil
	}
	if !tre.IsCode(err, tre.CodeNotFound) {
		return "", fmt.Errorf("registry: current version of %s: %w", name, err)
	}
	if versions == nil {
		if versions, err = r.versions(ctx, k, name); err != nil {
			return "", err
		}
	}
	if len(versions) == 0 {
		return "", tre.Errorf(tre.CodeNotFound, msgTemplateNotFound)
	}
	return earliest(versions), nil
}

func earliest(versions []*tre.Template) string {
	first := slices.MinFunc(versions, func(a, b *tre.Template) int {
		if a.RegisteredWhen != b.RegisteredWhen {
			if a.RegisteredWhen < b.RegisteredWhen {
				return -1
			}
			return 1
		}
		return tre.CompareVersions(a.Version, b.Version)
	})
	return first.Version
}

func (r *Registry) withCurrent(ctx context.Context, k Kind, t *tre.Template) (*tre.Template, error) {
	current, err := r.currentVersion(ctx, k, t.Name, nil)
	if err != nil {
		return nil, err
	}
	t.Current = t.Version == current
	return t, nil
}

// View is AzureTRE's template response: the enriched schema flattened with
// the template's metadata, plus system_properties. isUpdate marks every
// property that cannot be updated readOnly.
func View(t *tre.Template, isUpdate bool) map[string]any {
	v := schema.Enriched(t.ResourceType, t.Schema)
	if isUpdate {
		schema.MarkReadOnly(v)
	}
	v["id"] = t.ID
	v["name"] = t.Name
	v["version"] = t.Version
	v["resourceType"] = t.ResourceType
	v["current"] = t.Current
	v["title"] = t.Title
	v["description"] = t.Description
	v["customActions"] = t.CustomActions
	v["actions"] = []any{}
	if _, ok := v["authorizedRoles"]; !ok {
		v["authorizedRoles"] = []any{}
	}
	// AzureTRE's model always has pipeline (null without one) and
	// uiSchema ({} unless the schema gives one).
	v["pipeline"] = nil
	if t.Pipeline != nil {
		v["pipeline"] = t.Pipeline
	}
	if _, ok := v["uiSchema"]; !ok {
		v["uiSchema"] = map[string]any{}
	}
	if t.Egress != nil {
		v["egress"] = t.Egress
	}
	if t.MinimumParentVersion != "" {
		v["minimumParentVersion"] = t.MinimumParentVersion
	}
	if t.ParentWorkspaceService != "" {
		v["parentWorkspaceService"] = t.ParentWorkspaceService
	}
	v["system_properties"] = schema.SystemProperties(t.ResourceType)
	v["deprecated"] = t.Deprecated
	if t.Deprecated {
		v["deprecationReason"] = t.DeprecationReason
		v["deprecatedWhen"] = t.DeprecatedWhen
	}
	v["registeredWhen"] = t.RegisteredWhen
	return v
}

// Info is the summary of a template in list responses (AzureTRE's
// ResourceTemplateInformation, with the version added).
type Info struct {
	Name            string   `json:"name"`
	Version         string   `json:"version"`
	Title           string   `json:"title"`
	Description     string   `json:"description"`
	AuthorizedRoles []string `json:"authorizedRoles"`
}

// InfoOf summarises a template.
func InfoOf(t *tre.Template) Info {
	return Info{Name: t.Name, Version: t.Version, Title: t.Title, Description: t.Description, AuthorizedRoles: t.AuthorizedRoles()}
}

// VersionInfo describes one version in a versions listing.
type VersionInfo struct {
	Version           string   `json:"version"`
	Current           bool     `json:"current"`
	Deprecated        bool     `json:"deprecated"`
	DeprecationReason string   `json:"deprecationReason,omitempty"`
	RegisteredWhen    float64  `json:"registeredWhen"`
	RegisteredBy      string   `json:"registeredBy"`
	CustomActions     []string `json:"customActions"`
}

// VersionInfoOf summarises one version.
func VersionInfoOf(t *tre.Template) VersionInfo {
	names := make([]string, 0, len(t.CustomActions))
	for _, a := range t.CustomActions {
		names = append(names, a.Name)
	}
	return VersionInfo{Version: t.Version, Current: t.Current, Deprecated: t.Deprecated, DeprecationReason: t.DeprecationReason,
		RegisteredWhen: t.RegisteredWhen, RegisteredBy: t.RegisteredBy.Name, CustomActions: names}
}

// Authorized reports whether a caller with roles may use t: true when the
// template lists no authorizedRoles.
func Authorized(t *tre.Template, roles []string) bool {
	allowed := t.AuthorizedRoles()
	if len(allowed) == 0 {
		return true
	}
	for _, r := range roles {
		if slices.Contains(allowed, r) {
			return true
		}
	}
	return false
}
