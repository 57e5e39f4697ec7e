package main

import (
	"context"

	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/templatedir"
	"github.com/tre-go/tre/internal/tre"
)

// registerTemplates registers every template of TRE_TEMPLATES_DIR that is
// not registered yet (local mode: `make run` comes up with the sandbox
// templates ready to use).
func (m *Main) registerTemplates(ctx context.Context, reg *registry.Registry) error {
	templates, err := templatedir.Load(m.Config.TemplatesDir)
	if err != nil {
		return err
	}
	done, err := templatedir.RegisterAll(ctx, reg, templates, tre.User{ID: "tre-handler", Name: "tre-handler (start-up registration)"})
	if err != nil {
		return err
	}
	for _, t := range done {
		m.Log.Info("template registered from the templates directory", "template_name", t.Registration.Name,
			"template_version", t.Registration.Version, "resource_type", t.Kind.Type, "dir", t.Dir)
	}
	return nil
}
