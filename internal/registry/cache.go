package registry

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// CacheTTL is how long the registry serves a template name's versions and
// current version from memory before reading them again. A change made
// through a Registry (Register, UpdateVersion, Unregister, and any write
// added to this package, which must call invalidate) is seen by that
// Registry at once; a change made by another handler instance is seen
// within CacheTTL: for that long, creating a resource may still use the
// version that was current (or one just unregistered), and
// availableUpgrades may miss a version or list a deprecated or
// unregistered one. A version asked for by name that the cache does not hold is read
// from the store, so a resource's own template is always found.
const CacheTTL = 5 * time.Second

// cacheKey names one template name of one kind.
type cacheKey struct {
	kind Kind
	name string
}

// snapshot is what the registry read of one template name: every
// version, lowest first, and the current one ("" when there is none).
type snapshot struct {
	loaded   time.Time
	versions []*tre.Template
	current  string
}

// templateCache holds the snapshots. Templates in it are shared by every
// caller (copied shallowly, with their own Current): their schema,
// pipeline and egress are read-only.
type templateCache struct {
	mu    sync.Mutex
	m     map[cacheKey]*snapshot
	epoch map[cacheKey]uint64 // bumped by invalidate: a load begun before is not kept
}

// snapshotOf returns the name's snapshot, read from the store when the
// cache has none younger than CacheTTL.
func (r *Registry) snapshotOf(ctx context.Context, k Kind, name string) (*snapshot, error) {
	key := cacheKey{k, name}
	now := r.now()
	c := &r.cache
	c.mu.Lock()
	s := c.m[key]
	epoch := c.epoch[key]
	c.mu.Unlock()
	if s != nil && now.Sub(s.loaded) < CacheTTL && !now.Before(s.loaded) {
		return s, nil
	}
	versions, err := r.versions(ctx, k, name)
	if err != nil {
		return nil, err
	}
	sort.Slice(versions, func(i, j int) bool { return tre.CompareVersions(versions[i].Version, versions[j].Version) < 0 })
	s = &snapshot{loaded: now, versions: versions}
	if len(versions) > 0 {
		if s.current, err = r.currentVersion(ctx, k, name, versions); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch[key] == epoch {
		if c.m == nil {
			c.m = map[cacheKey]*snapshot{}
		}
		c.m[key] = s
	}
	return s, nil
}

// invalidate drops what the cache holds of a name: every write of a
// template or of a current-version pointer calls it.
func (r *Registry) invalidate(k Kind, name string) {
	key := cacheKey{k, name}
	c := &r.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	if c.epoch == nil {
		c.epoch = map[cacheKey]uint64{}
	}
	c.epoch[key]++
}

// view is a caller's copy of a cached template.
func (s *snapshot) view(t *tre.Template) *tre.Template {
	cp := *t
	cp.Current = t.Version == s.current
	return &cp
}

func (s *snapshot) version(v string) *tre.Template {
	for _, t := range s.versions {
		if t.Version == v {
			return t
		}
	}
	return nil
}

// getUncached reads one version from the store, with whether it is
// current.
func (r *Registry) getUncached(ctx context.Context, k Kind, name, version string) (*tre.Template, error) {
	t, err := tre.GetAs[tre.Template](ctx, r.store, tre.ResourceTemplates, templateID(k, name, version))
	if tre.IsCode(err, tre.CodeNotFound) {
		return nil, tre.Errorf(tre.CodeNotFound, msgTemplateNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: get %s %s: %w", name, version, err)
	}
	return r.withCurrent(ctx, k, t)
}
