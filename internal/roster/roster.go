// Package roster keeps the roster of Resource Processor agents: the last
// heartbeat each agent sent, and from them whether a processor is alive
// (the "Resource Processor" entry of the health report).
package roster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// Service records the agents' heartbeats in the store's Agents collection.
type Service struct {
	store tre.Store
	now   func() time.Time
}

// New returns the service; now is its clock (nil: time.Now).
func New(store tre.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// Agent is what the roster knows of one agent: its last heartbeat.
type Agent struct {
	ID       string  `json:"id"`
	Agent    string  `json:"agent"`
	Version  string  `json:"version,omitempty"`
	Workers  int     `json:"workers"`
	Healthy  bool    `json:"healthy"`
	Problem  string  `json:"problem,omitempty"`
	LastSeen float64 `json:"lastSeen"`
	SentAt   float64 `json:"sentAt"`
}

// Record keeps an agent's heartbeat (the newest wins).
// Returns CodeInvalid for a heartbeat without an agent name.
func (s *Service) Record(ctx context.Context, hb tre.AgentHeartbeat) error {
	if strings.TrimSpace(hb.Agent) == "" {
		return tre.Errorf(tre.CodeInvalid, "agent heartbeat without an agent name")
	}
	rec := Agent{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:agent:"+hb.Agent)).String(), Agent: hb.Agent, Version: hb.Version,
		Workers: hb.Workers, Healthy: hb.Healthy, Problem: hb.Problem, LastSeen: tre.Timestamp(s.now()), SentAt: hb.SentAt}
	for attempt := 0; attempt < 5; attempt++ {
		old, err := tre.GetAs[Agent](ctx, s.store, tre.Agents, rec.ID)
		switch {
		case tre.IsCode(err, tre.CodeNotFound):
			if _, err = tre.CreateAs(ctx, s.store, tre.Agents, rec.ID, &rec); tre.IsCode(err, tre.CodeConflict) {
				continue
			}
			return err
		case err != nil:
			return fmt.Errorf("roster: record agent %s: %w", hb.Agent, err)
		}
		if old.SentAt > rec.SentAt {
			return nil // a late heartbeat
		}
		_, err = tre.ReplaceAs(ctx, s.store, tre.Agents, rec.ID, "", &rec)
		return err
	}
	return nil
}

// List returns the agents' last heartbeats, most recent first.
func (s *Service) List(ctx context.Context) ([]*Agent, error) {
	list, err := tre.QueryAs[Agent](ctx, s.store, tre.Agents, tre.Query{})
	if err != nil {
		return nil, fmt.Errorf("roster: agents: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].LastSeen > list[j].LastSeen })
	return list, nil
}

// Health reports whether a Resource Processor is alive: at least
// one agent said it was healthy within staleAfter. The error says what was
// seen instead.
func (s *Service) Health(ctx context.Context, staleAfter time.Duration) error {
	agents, err := s.List(ctx)
	if err != nil {
		return err
	}
	if len(agents) == 0 {
		return fmt.Errorf("no Resource Processor agent has reported yet")
	}
	cutoff := tre.Timestamp(s.now().Add(-staleAfter))
	var seen []string
	for _, a := range agents {
		if a.LastSeen >= cutoff && a.Healthy {
			return nil
		}
		state := "healthy"
		if !a.Healthy {
			state = "unhealthy: " + a.Problem
		}
		seen = append(seen, fmt.Sprintf("%s last reported %s ago (%s)", a.Agent,
			s.now().Sub(time.Unix(0, int64(a.LastSeen*1e9))).Round(time.Second), state))
	}
	return fmt.Errorf("no healthy Resource Processor agent reported in the last %s: %s", staleAfter, strings.Join(seen, "; "))
}
