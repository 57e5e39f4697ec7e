package api

import (
	"context"
	"net/http"

	"github.com/tre-go/tre/internal/catalog"
	"github.com/tre-go/tre/internal/tre"
)

// Catalogs are the workspaces' catalogues of allowed templates;
// *catalog.Service implements it.
type Catalogs interface {
	// Get returns a workspace's catalogue, nil when it has none.
	Get(ctx context.Context, workspaceID string) (*catalog.Catalog, error)
	// Put sets it. Returns CodeInvalid.
	Put(ctx context.Context, workspaceID string, entries []catalog.Entry, by tre.User) (*catalog.Catalog, error)
	// Delete removes it. Returns CodeNotFound.
	Delete(ctx context.Context, workspaceID string, by tre.User) error
}

// Not in AzureTRE (#4315, #3316): which templates a workspace may use.
func (a *API) catalogRoutes() []Route {
	p := "/api/workspaces/{workspace_id}/allowed-templates"
	return []Route{
		{Method: "GET", Pattern: p, Access: wsAll, Status: 200,
			Summary: "The workspace's catalogue of allowed templates and versions (restricted: false when it has none and every template is allowed)", Handle: a.getCatalog},
		{Method: "PUT", Pattern: p, Access: wsOwnAdmin, Status: 200, Request: catalogBody{},
			Summary: "Set which workspace service and user resource templates (and versions or ranges) may be used in the workspace; creation and upgrade enforce it", Handle: a.putCatalog},
		{Method: "DELETE", Pattern: p, Access: wsOwnAdmin, Status: 200,
			Summary: "Remove the workspace's catalogue: every template is allowed again", Handle: a.deleteCatalog},
	}
}

// catalogBody is the body of PUT …/allowed-templates.
type catalogBody struct {
	Templates []catalog.Entry `json:"templates"`
}

// AllowedTemplate is one entry of a workspace's catalogue.
type AllowedTemplate struct {
	ResourceType string   `json:"resourceType"`
	Name         string   `json:"name"`
	Parent       string   `json:"parentWorkspaceService,omitempty"`
	Versions     []string `json:"versions"`
}

// WorkspaceCatalog is a workspace's catalogue of allowed templates.
type WorkspaceCatalog struct {
	WorkspaceID string            `json:"workspaceId"`
	Restricted  bool              `json:"restricted"`
	Templates   []AllowedTemplate `json:"templates"`
	UpdatedWhen float64           `json:"updatedWhen,omitempty"`
	UpdatedBy   string            `json:"updatedBy,omitempty"`
}

func catalogOf(workspaceID string, c *catalog.Catalog) WorkspaceCatalog {
	out := WorkspaceCatalog{WorkspaceID: workspaceID, Templates: []AllowedTemplate{}}
	if c == nil {
		return out
	}
	out.Restricted, out.UpdatedWhen, out.UpdatedBy = true, c.UpdatedWhen, c.UpdatedBy.Name
	for _, e := range c.Templates {
		v := append([]string{}, e.Versions...)
		out.Templates = append(out.Templates, AllowedTemplate{ResourceType: string(e.ResourceType), Name: e.Name, Parent: e.Parent, Versions: v})
	}
	return out
}

func (a *API) getCatalog(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	c, err := a.Catalogs.Get(r.Context(), ws.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, catalogOf(ws.ID, c))
	return nil
}

func (a *API) putCatalog(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	var body catalogBody
	if err := a.decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	c, err := a.Catalogs.Put(r.Context(), ws.ID, body.Templates, userOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, catalogOf(ws.ID, c))
	return nil
}

func (a *API) deleteCatalog(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.workspaceOf(r)
	if err != nil {
		return err
	}
	if err := a.Catalogs.Delete(r.Context(), ws.ID, userOf(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, catalogOf(ws.ID, nil))
	return nil
}
