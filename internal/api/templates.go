package api

import (
	"net/http"
	"net/url"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

// templateFamily is one of the four template route families.
type templateFamily struct {
	base string // route prefix, e.g. /api/workspace-templates
	typ  tre.ResourceType
	read Access // who may list and get
	noun string // for summaries
}

func (a *API) templateRoutes() []Route {
	families := []templateFamily{
		{"/api/workspace-templates", tre.TypeWorkspace, treAdmin, "workspace template"},
		{"/api/workspace-service-templates", tre.TypeWorkspaceService, treUserOrAdmin, "workspace service template"},
		{"/api/workspace-service-templates/{service_template_name}/user-resource-templates", tre.TypeUserResource, treUserOrAdmin, "user resource template"},
		{"/api/shared-service-templates", tre.TypeSharedService, treUserOrAdmin, "shared service template"},
	}
	var routes []Route
	for _, f := range families {
		routes = append(routes,
			Route{Method: "GET", Pattern: f.base, Access: f.read, Status: 200,
				Summary: "List the current " + f.noun + "s", Handle: a.listTemplates(f)},
			Route{Method: "POST", Pattern: f.base, Access: treAdmin, Status: 201, Request: registry.Registration{},
				Summary: "Register a " + f.noun + " version", Handle: a.registerTemplate(f)},
			Route{Method: "GET", Pattern: f.base + "/{template_name}", Access: f.read, Status: 200,
				Summary: "Get a " + f.noun + " (current, or ?version=)", Handle: a.getTemplate(f)},
			Route{Method: "GET", Pattern: f.base + "/{template_name}/versions", Access: f.read, Status: 200,
				Summary: "List every version of a " + f.noun, Handle: a.templateVersions(f)},
			Route{Method: "PATCH", Pattern: f.base + "/{template_name}/versions/{version}", Access: treAdmin, Status: 200, Request: registry.Update{},
				Summary: "Make a " + f.noun + " version current, or deprecate it", Handle: a.updateTemplateVersion(f)},
			Route{Method: "DELETE", Pattern: f.base + "/{template_name}/versions/{version}", Access: treAdmin, Status: 200,
				Summary: "Unregister a " + f.noun + " version that no resource uses (409 names the resources that do)", Handle: a.unregisterTemplateVersion(f)},
		)
	}
	return routes
}

func kindOf(f templateFamily, r *http.Request) registry.Kind {
	return registry.Kind{Type: f.typ, Parent: r.PathValue("service_template_name")}
}

func (a *API) listTemplates(f templateFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		authorizedOnly, err := queryBool(r, "authorized_only")
		if err != nil {
			return err
		}
		list, err := a.Registry.List(r.Context(), kindOf(f, r))
		if err != nil {
			return err
		}
		roles := userOf(r.Context()).Roles
		infos := make([]registry.Info, 0, len(list))
		for _, t := range list {
			if authorizedOnly && !registry.Authorized(t, roles) {
				continue
			}
			infos = append(infos, registry.InfoOf(t))
		}
		writeJSON(w, http.StatusOK, map[string]any{"templates": infos})
		return nil
	}
}

func (a *API) registerTemplate(f templateFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var reg registry.Registration
		if err := a.decodeJSON(w, r, &reg, false); err != nil {
			return err
		}
		t, err := a.Registry.Register(r.Context(), kindOf(f, r), reg, userOf(r.Context()))
		if err != nil {
			return err
		}
		loggerOf(r.Context(), a.log()).Info("template registered", "template_name", t.Name, "template_version", t.Version,
			"resource_type", t.ResourceType, "current", t.Current)
		w.Header().Set("Location", templateLocation(r, t))
		writeJSON(w, http.StatusCreated, registry.View(t, false))
		return nil
	}
}

func templateLocation(r *http.Request, t *tre.Template) string {
	return r.URL.Path + "/" + url.PathEscape(t.Name) + "?version=" + url.QueryEscape(t.Version)
}

func (a *API) getTemplate(f templateFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		isUpdate, err := queryBool(r, "is_update")
		if err != nil {
			return err
		}
		name, version := r.PathValue("template_name"), r.URL.Query().Get("version")
		var t *tre.Template
		if version == "" {
			t, err = a.Registry.Current(r.Context(), kindOf(f, r), name)
		} else {
			t, err = a.Registry.Get(r.Context(), kindOf(f, r), name, version)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, registry.View(t, isUpdate))
		return nil
	}
}

func (a *API) templateVersions(f templateFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		all, err := a.Registry.Versions(r.Context(), kindOf(f, r), r.PathValue("template_name"))
		if err != nil {
			return err
		}
		out := make([]registry.VersionInfo, len(all))
		for i, t := range all {
			out[i] = registry.VersionInfoOf(t)
		}
		writeJSON(w, http.StatusOK, map[string]any{"versions": out})
		return nil
	}
}

func (a *API) updateTemplateVersion(f templateFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var u registry.Update
		if err := a.decodeJSON(w, r, &u, true); err != nil {
			return err
		}
		name, version := r.PathValue("template_name"), r.PathValue("version")
		t, err := a.Registry.UpdateVersion(r.Context(), kindOf(f, r), name, version, u, userOf(r.Context()))
		if err != nil {
			return err
		}
		loggerOf(r.Context(), a.log()).Info("template version updated", "template_name", name, "template_version", version,
			"current", t.Current, "deprecated", t.Deprecated)
		writeJSON(w, http.StatusOK, registry.View(t, false))
		return nil
	}
}

// Unregistered is the answer of an unregistration.
type Unregistered struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Result  string `json:"result"`
}

func (a *API) unregisterTemplateVersion(f templateFamily) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, version := r.PathValue("template_name"), r.PathValue("version")
		if err := a.Registry.Unregister(r.Context(), kindOf(f, r), name, version); err != nil {
			return err
		}
		loggerOf(r.Context(), a.log()).Info("template version unregistered", "template_name", name, "template_version", version)
		writeJSON(w, http.StatusOK, Unregistered{Name: name, Version: version, Result: "unregistered"})
		return nil
	}
}
