package main

import (
	"context"
	"time"

	"github.com/tre-go/tre/internal/config"
	"github.com/tre-go/tre/internal/costmanagement"
	"github.com/tre-go/tre/internal/costs"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
	"github.com/tre-go/tre/internal/upgrade"
)

// Fleet settings: costs, bulk upgrades, the audit trail.
type fleetConfig struct {
	// Costs is azure or none.
	Costs          string
	SubscriptionID string
	CostsCacheTTL  time.Duration
	// UpgradeInterval is the local upgrade-batches timer's period.
	UpgradeInterval time.Duration
}

func (c *Config) fleetSettings(e *config.Env) {
	c.SubscriptionID = e.String("AZURE_SUBSCRIPTION_ID")
	c.CostsCacheTTL = e.Duration("TRE_COSTS_CACHE_TTL", 0, 24*time.Hour)
	c.UpgradeInterval = e.Duration("TRE_UPGRADE_INTERVAL", time.Second, time.Hour)
	c.Costs = "none"
	if c.SubscriptionID != "" {
		c.Costs = "azure"
	}
	if e.Set("TRE_COSTS") {
		c.Costs = e.OneOf("TRE_COSTS", "azure", "none")
	}
	if c.Costs == "azure" && c.SubscriptionID == "" {
		e.Problemf("AZURE_SUBSCRIPTION_ID: required with TRE_COSTS=azure (the subscription whose costs are reported)")
	}
}

// costService builds the costs service on its source: Azure Cost
// Management, or none.
func (m *Main) costService() (*costs.Service, error) {
	var source tre.CostSource
	name := ""
	if m.Config.Costs == "azure" {
		cred, err := m.credential()
		if err != nil {
			return nil, err
		}
		src, err := costmanagement.New(cred, m.Config.SubscriptionID, m.armOptions(), m.Log.With("component", "costs"))
		if err != nil {
			return nil, err
		}
		source, name = src, costmanagement.Name
	}
	return costs.New(source, m.lifecycle, costs.Config{TREID: m.Config.TREID, SourceName: name, CacheTTL: m.Config.CostsCacheTTL},
		costs.Options{Log: m.Log.With("component", "costs")}), nil
}

// outcomes are who hears of operations' ends after the write that ended
// them: the bulk upgrades (through the late-bound upgrade service: it is
// built on lifecycle, after it). The audit trail records them in that
// write (lifecycle.Options.Records).
func (m *Main) outcomes() lifecycle.Outcomes {
	return upgradeOutcomes{m}
}

type upgradeOutcomes struct{ m *Main }

func (u upgradeOutcomes) OperationEnded(ctx context.Context, op tre.Operation) {
	if u.m.upgrades != nil {
		u.m.upgrades.OperationEnded(ctx, op)
	}
}

// upgradeService builds the bulk upgrades on lifecycle.
func (m *Main) upgradeService() *upgrade.Service {
	return upgrade.New(m.store, m.lifecycle, upgrade.Config{Holder: leaseHolder()}, upgrade.Options{Log: m.Log.With("component", "upgrade")})
}
