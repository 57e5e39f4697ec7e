package lifecycle

import (
	"github.com/tre-go/tre/internal/registry"
	"github.com/tre-go/tre/internal/tre"
)

func registryKind(t tre.ResourceType) registry.Kind { return registry.Kind{Type: t} }

func registryUpdate(current *bool) registry.Update { return registry.Update{Current: current} }
