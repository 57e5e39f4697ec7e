package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/tre"
)

// AgentRecord is the last heartbeat of a Resource Processor agent.
type AgentRecord struct {
	ID       string  `json:"id"`
	Agent    string  `json:"agent"`
	Version  string  `json:"version,omitempty"`
	Workers  int     `json:"workers"`
	Healthy  bool    `json:"healthy"`
	Problem  string  `json:"problem,omitempty"`
	LastSeen float64 `json:"lastSeen"`
	SentAt   float64 `json:"sentAt"`
}

// RecordAgent keeps an agent's heartbeat (the newest wins).
// Returns CodeInvalid for a heartbeat without an agent name.
func (s *Service) RecordAgent(ctx context.Context, hb tre.AgentHeartbeat) error {
	if strings.TrimSpace(hb.Agent) == "" {
		return tre.Errorf(tre.CodeInvalid, "agent heartbeat without an agent name")
	}
	rec := AgentRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("tre:agent:"+hb.Agent)).String(), Agent: hb.Agent, Version: hb.Version,
		Workers: hb.Workers, Healthy: hb.Healthy, Problem: hb.Problem, LastSeen: s.ts(), SentAt: hb.SentAt}
	for attempt := 0; attempt < 5; attempt++ {
		old, err := tre.GetAs[AgentRecord](ctx, s.store, tre.Agents, rec.ID)
		switch {
		case tre.IsCode(err, tre.CodeNotFound):
			if _, err = tre.CreateAs(ctx, s.store, tre.Agents, rec.ID, &rec); tre.IsCode(err, tre.CodeConflict) {
				continue
			}
			return err
		case err != nil:
			return fmt.Errorf("lifecycle: record agent %s: %w", hb.Agent, err)
		}
		if old.SentAt > rec.SentAt {
			return nil // a late heartbeat
		}
		_, err = tre.ReplaceAs(ctx, s.store, tre.Agents, rec.ID, "", &rec)
		return err
	}
	return nil
}

// Agents lists the agents' last heartbeats, most recent first.
func (s *Service) Agents(ctx context.Context) ([]*AgentRecord, error) {
	list, err := tre.QueryAs[AgentRecord](ctx, s.store, tre.Agents, tre.Query{})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: agents: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].LastSeen > list[j].LastSeen })
	return list, nil
}

// ProcessorHealth reports whether a Resource Processor is alive: at least
// one agent said it was healthy within staleAfter. The error says what was
// seen instead.
func (s *Service) ProcessorHealth(ctx context.Context, staleAfter time.Duration) error {
	agents, err := s.Agents(ctx)
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
