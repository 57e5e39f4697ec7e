package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
	"github.com/tre-go/tre/internal/upgrade"
)

// FunctionUpgradeBatches is the timer that advances bulk upgrades.
const FunctionUpgradeBatches = "upgrade-batches"

// Upgrades are the bulk upgrades; *upgrade.Service implements it.
type Upgrades interface {
	// Plan says what a bulk upgrade would do. Returns CodeInvalid.
	Plan(ctx context.Context, req upgrade.Request) (*upgrade.Plan, error)
	// Apply starts one. Returns CodeInvalid.
	Apply(ctx context.Context, req upgrade.Request, by tre.User) (*upgrade.Batch, error)
	// List lists them, newest first.
	List(ctx context.Context) ([]*upgrade.Batch, error)
	// Get returns one. Returns CodeInvalid, CodeNotFound.
	Get(ctx context.Context, id string) (*upgrade.Batch, error)
	// Pause, Resume and Cancel control one. Return CodeNotFound,
	// CodeConflict.
	Pause(ctx context.Context, id string, by tre.User) (*upgrade.Batch, error)
	Resume(ctx context.Context, id string, by tre.User) (*upgrade.Batch, error)
	Cancel(ctx context.Context, id string, by tre.User) (*upgrade.Batch, error)
	// Advance moves the active batches on (the timer).
	Advance(ctx context.Context) error
}

// Not in AzureTRE (#4563): many resources upgraded at once, plan first.
func (a *API) upgradeRoutes() []Route {
	one := "/api/upgrades/{upgrade_id}"
	return []Route{
		{Method: "POST", Pattern: "/api/upgrades", Access: treAdmin, Status: 200, Request: upgrade.Request{},
			Summary: "Plan a bulk upgrade of a template's resources (dryRun, the default: 200 with the plan), or apply it (dryRun false: 202 with the batch and its Location)", Handle: a.postUpgrade},
		{Method: "GET", Pattern: "/api/upgrades", Access: treAdmin, Status: 200, Summary: "List the bulk upgrades, newest first", Handle: a.listUpgrades},
		{Method: "GET", Pattern: one, Access: treAdmin, Status: 200, Summary: "A bulk upgrade: each item's status and operation, and the counts", Handle: a.getUpgrade},
		{Method: "POST", Pattern: one + "/pause", Access: treAdmin, Status: 200, Summary: "Pause a bulk upgrade: no more upgrades start (running ones finish)", Handle: a.controlUpgrade(Upgrades.Pause)},
		{Method: "POST", Pattern: one + "/resume", Access: treAdmin, Status: 200, Summary: "Resume a paused bulk upgrade (its failure count starts anew)", Handle: a.controlUpgrade(Upgrades.Resume)},
		{Method: "POST", Pattern: one + "/cancel", Access: treAdmin, Status: 200, Summary: "Cancel a bulk upgrade: what has not started never will (running ones finish)", Handle: a.controlUpgrade(Upgrades.Cancel)},
		{Method: "GET", Pattern: one + "/events", Access: treAdmin, Status: 200, Summary: "Server-Sent Events: each change of a bulk upgrade until it ends", Handle: a.upgradeEvents},
		{Method: "POST", Pattern: "/" + FunctionUpgradeBatches, Access: public, Trigger: true, Status: 200,
			Summary: "Timer trigger: advance the bulk upgrades (record ended upgrades, start the next ones)", Handle: a.upgradeBatches},
	}
}

// UpgradeItem is one resource of a plan or a batch.
type UpgradeItem struct {
	ResourceID   string  `json:"resourceId"`
	ResourcePath string  `json:"resourcePath"`
	ResourceType string  `json:"resourceType"`
	FromVersion  string  `json:"fromVersion"`
	ToVersion    string  `json:"toVersion"`
	Action       string  `json:"action"`
	ReasonCode   string  `json:"reasonCode,omitempty"`
	Reason       string  `json:"reason,omitempty"`
	ParentID     string  `json:"parentId,omitempty"`
	Status       string  `json:"status,omitempty"`
	OperationID  string  `json:"operationId,omitempty"`
	Message      string  `json:"message,omitempty"`
	StartedWhen  float64 `json:"startedWhen,omitempty"`
	EndedWhen    float64 `json:"endedWhen,omitempty"`
}

// UpgradePlan is what a bulk upgrade would do.
type UpgradePlan struct {
	Items   []UpgradeItem   `json:"items"`
	Summary upgrade.Summary `json:"summary"`
}

// UpgradeBatch is an applied bulk upgrade.
type UpgradeBatch struct {
	ID            string          `json:"id"`
	Request       upgrade.Request `json:"request"`
	Status        string          `json:"status"`
	StatusMessage string          `json:"statusMessage,omitempty"`
	Active        bool            `json:"active"`
	CreatedWhen   float64         `json:"createdWhen"`
	CreatedBy     string          `json:"createdBy"`
	UpdatedWhen   float64         `json:"updatedWhen"`
	Counts        upgrade.Counts  `json:"counts"`
	Items         []UpgradeItem   `json:"items,omitempty"`
}

func upgradeItemsOf(items []upgrade.Item) []UpgradeItem {
	out := make([]UpgradeItem, len(items))
	for i, it := range items {
		out[i] = UpgradeItem{ResourceID: it.ResourceID, ResourcePath: it.ResourcePath, ResourceType: string(it.ResourceType),
			FromVersion: it.FromVersion, ToVersion: it.ToVersion, Action: it.Action, ReasonCode: it.ReasonCode, Reason: it.Reason,
			ParentID: it.ParentID, Status: it.Status, OperationID: it.OperationID, Message: it.Message,
			StartedWhen: it.StartedWhen, EndedWhen: it.EndedWhen}
	}
	return out
}

func upgradeBatchOf(b *upgrade.Batch, withItems bool) UpgradeBatch {
	out := UpgradeBatch{ID: b.ID, Request: b.Request, Status: b.Status, StatusMessage: b.StatusMessage, Active: b.Active,
		CreatedWhen: b.CreatedWhen, CreatedBy: b.CreatedBy.Name, UpdatedWhen: b.UpdatedWhen, Counts: b.Counts}
	if withItems {
		out.Items = upgradeItemsOf(b.Items)
	}
	return out
}

func (a *API) postUpgrade(w http.ResponseWriter, r *http.Request) error {
	var req upgrade.Request
	if err := a.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	if req.DryRun == nil || *req.DryRun {
		plan, err := a.Upgrades.Plan(r.Context(), req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"plan": UpgradePlan{Items: upgradeItemsOf(plan.Items), Summary: plan.Summary}})
		return nil
	}
	b, err := a.Upgrades.Apply(r.Context(), req, userOf(r.Context()))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/upgrades/"+b.ID)
	writeJSON(w, http.StatusAccepted, map[string]any{"upgrade": upgradeBatchOf(b, true)})
	return nil
}

func (a *API) listUpgrades(w http.ResponseWriter, r *http.Request) error {
	list, err := a.Upgrades.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]UpgradeBatch, len(list))
	for i, b := range list {
		out[i] = upgradeBatchOf(b, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"upgrades": out})
	return nil
}

func (a *API) getUpgrade(w http.ResponseWriter, r *http.Request) error {
	b, err := a.Upgrades.Get(r.Context(), r.PathValue("upgrade_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"upgrade": upgradeBatchOf(b, true)})
	return nil
}

func (a *API) controlUpgrade(fn func(Upgrades, context.Context, string, tre.User) (*upgrade.Batch, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := fn(a.Upgrades, r.Context(), r.PathValue("upgrade_id"), userOf(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"upgrade": upgradeBatchOf(b, true)})
		return nil
	}
}

// upgradeEvents streams a batch's changes until it is no longer active.
func (a *API) upgradeEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("upgrade_id")
	b, err := a.Upgrades.Get(r.Context(), id)
	if err != nil {
		return err
	}
	release, err := a.acquireStream(r)
	if err != nil {
		return err
	}
	defer release()
	w = newDeadlineWriter(w)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(a.eventPoll())
	defer tick.Stop()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	limit := time.NewTimer(a.streamLimit())
	defer limit.Stop()
	last := ""
	for {
		if b.ETag != last {
			last = b.ETag
			data, _ := json.Marshal(upgradeBatchOf(b, true))
			fmt.Fprintf(w, "id: %s\nevent: upgrade\ndata: %s\n\n", b.ETag, data)
			if !b.Active {
				fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", b.Status)
				flush()
				return nil
			}
			flush()
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flush()
		case <-limit.C:
			reconnect(w, flusher)
			return nil
		case <-tick.C:
		}
		if b, err = a.Upgrades.Get(r.Context(), id); err != nil {
			if r.Context().Err() == nil {
				fmt.Fprintf(w, "event: error\ndata: %q\n\n", tre.ErrorMessage(err))
			}
			return nil
		}
	}
}

func (a *API) eventPoll() time.Duration {
	if a.EventPoll <= 0 {
		return 500 * time.Millisecond
	}
	return a.EventPoll
}

func (a *API) upgradeBatches(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.decodeInvocation(w, r); err != nil {
		return err
	}
	if err := a.Upgrades.Advance(r.Context()); err != nil {
		loggerOf(r.Context(), a.log()).Warn("upgrade batches not advanced", "error", err.Error())
		funchost.WriteResponse(w, http.StatusInternalServerError, "upgrade batches incomplete: "+tre.ErrorMessage(err))
		return nil
	}
	funchost.WriteResponse(w, http.StatusOK, "upgrade batches advanced")
	return nil
}
