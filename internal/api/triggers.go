package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/lifecycle"
	"github.com/tre-go/tre/internal/tre"
)

// Trigger function names: the host posts their invocations to /{name}.
// They live outside /api/, so the forwarded api function never reaches
// them; in Azure only the host, over loopback, does.
const (
	FunctionDeploymentStatus   = "deployment-status"
	FunctionDispatchRedelivery = "dispatch-redelivery"
	FunctionOperationsWatchdog = "operations-watchdog"
	// The airlock processor's functions.
	FunctionAirlockStatusChanged = "airlock-status-changed"
	FunctionAirlockSweep         = "airlock-sweep"
)

// TriggerBindings names, for each trigger function, the binding of its
// function.json whose value the handler reads from the invocation's Data.
func TriggerBindings() map[string]string {
	return map[string]string{
		FunctionDeploymentStatus:   "msg",
		FunctionDispatchRedelivery: "timer",
		FunctionOperationsWatchdog: "timer",
		FunctionFirewallReconcile:  "timer",

		FunctionAirlockStatusChanged: "msg",
		FunctionAirlockSweep:         "timer",
		FunctionUpgradeBatches:       "timer",
	}
}

func (a *API) triggerRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/" + FunctionDeploymentStatus, Access: public, Trigger: true, Status: 200,
			Summary: "Service Bus trigger on deploymentstatus: ingest a status message", Handle: a.deploymentStatus},
		{Method: "POST", Pattern: "/" + FunctionDispatchRedelivery, Access: public, Trigger: true, Status: 200,
			Summary: "Timer trigger: recover interrupted operations and send undispatched steps", Handle: a.dispatchRedelivery},
		{Method: "POST", Pattern: "/" + FunctionOperationsWatchdog, Access: public, Trigger: true, Status: 200,
			Summary: "Timer trigger: fail steps that are unsent, unpicked or silent past their limits", Handle: a.operationsWatchdog},
		{Method: "POST", Pattern: "/" + FunctionFirewallReconcile, Access: public, Trigger: true, Status: 200,
			Summary: "Timer trigger: run due firewall steps and make the firewall match the declared rules", Handle: a.firewallReconcile},
		{Method: "POST", Pattern: "/" + FunctionAirlockStatusChanged, Access: public, Trigger: true, Status: 200,
			Summary: "Service Bus trigger on airlock-status-changed: the airlock processor moves a request's files and sets the outcome", Handle: a.airlockStatusChanged},
		{Method: "POST", Pattern: "/" + FunctionAirlockSweep, Access: public, Trigger: true, Status: 200,
			Summary: "Timer trigger: send the airlock's unsent messages, look at pending scan verdicts, fail requests stuck in progress", Handle: a.airlockSweep},
	}
}

func (a *API) operationsWatchdog(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.decodeInvocation(w, r); err != nil {
		return err
	}
	n, err := a.Triggers.Watchdog(r.Context())
	if err != nil {
		loggerOf(r.Context(), a.log()).Warn("watchdog incomplete", "error", err.Error())
		funchost.WriteResponse(w, http.StatusInternalServerError, "watchdog incomplete: "+tre.ErrorMessage(err))
		return nil
	}
	funchost.WriteResponse(w, http.StatusOK, fmt.Sprintf("watchdog failed %d step(s)", n))
	return nil
}

// decodeInvocation reads a Functions host invocation payload.
func (a *API) decodeInvocation(w http.ResponseWriter, r *http.Request) (*funchost.Invocation, error) {
	var inv funchost.Invocation
	if err := a.readJSON(w, r, &inv, false, false); err != nil {
		return nil, err
	}
	return &inv, nil
}

// deploymentStatus ingests one status message. A message that cannot
// succeed on a retry (malformed, or about an unknown operation or step) is
// recorded for admins and answered 200, so the host completes it; a
// transient failure (the store is down) is answered 500, so the host
// abandons the message and Service Bus delivers it again (and dead-letters
// it after the queue's max delivery count).
func (a *API) deploymentStatus(w http.ResponseWriter, r *http.Request) error {
	inv, err := a.decodeInvocation(w, r)
	if err != nil {
		return err
	}
	log := loggerOf(r.Context(), a.log()).With("message_id", inv.String("MessageId"), "session_id", inv.String("SessionId"),
		"delivery_count", inv.Int("DeliveryCount"))
	reject := func(reason, opID string, body []byte) error {
		err := a.retryUnavailable(r.Context(), log, func() error {
			return a.DeadLetters.Reject(r.Context(), deadletter.RejectedMessage{
				Queue: tre.QueueStatus, MessageID: inv.String("MessageId"), SessionID: inv.String("SessionId"),
				DeliveryCount: inv.Int("DeliveryCount"), Reason: reason, OperationID: opID, Body: string(body),
			})
		})
		if err != nil {
			return err
		}
		funchost.WriteResponse(w, http.StatusOK, "rejected: "+reason)
		return nil
	}
	body, err := inv.Body(TriggerBindings()[FunctionDeploymentStatus])
	if err != nil {
		raw, _ := json.Marshal(inv.Data)
		return reject("the message body is not JSON: "+err.Error(), "", raw)
	}
	var kind struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(body, &kind)
	if kind.Kind == tre.KindAgentHeartbeat {
		var hb tre.AgentHeartbeat
		if err := json.Unmarshal(body, &hb); err != nil {
			return reject("the message is not an agent heartbeat: "+err.Error(), "", body)
		}
		if err := a.retryUnavailable(r.Context(), log, func() error { return a.Agents.Record(r.Context(), hb) }); err != nil {
			if tre.IsCode(err, tre.CodeInvalid) {
				return reject(tre.ErrorMessage(err), "", body)
			}
			log.Error("heartbeat not recorded; the host will deliver it again", "error", err.Error())
			funchost.WriteResponse(w, http.StatusInternalServerError, "retry: "+tre.ErrorMessage(err))
			return nil
		}
		funchost.WriteResponse(w, http.StatusOK, "agent "+hb.Agent+" recorded")
		return nil
	}
	var upd tre.StatusUpdate
	if err := json.Unmarshal(body, &upd); err != nil {
		return reject("the message is not a status update: "+err.Error(), "", body)
	}
	annotate(r, "operation_id", upd.OperationID, "step_id", upd.StepID, "resource_id", upd.ID)
	log = log.With("status", upd.Status)
	var outcome lifecycle.Outcome
	err = a.retryUnavailable(r.Context(), log, func() (err error) {
		outcome, err = a.Triggers.ApplyStatus(r.Context(), upd)
		return err
	})
	switch tre.ErrorCode(err) {
	case "":
		log.Debug("status ingested", "outcome", outcome)
		funchost.WriteResponse(w, http.StatusOK, fmt.Sprintf("%s: step %s %s", outcome, upd.StepID, upd.Status))
		return nil
	case tre.CodeInvalid, tre.CodeNotFound:
		return reject(tre.ErrorMessage(err), upd.OperationID, body)
	default:
		log.Error("status ingestion failed; the host will deliver it again", "error", err.Error())
		funchost.WriteResponse(w, http.StatusInternalServerError, "retry: "+tre.ErrorMessage(err))
		return nil
	}
}

func (a *API) dispatchRedelivery(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.decodeInvocation(w, r); err != nil {
		return err
	}
	if err := a.Triggers.Sweep(r.Context()); err != nil {
		loggerOf(r.Context(), a.log()).Warn("sweep incomplete", "error", err.Error())
		funchost.WriteResponse(w, http.StatusInternalServerError, "sweep incomplete: "+tre.ErrorMessage(err))
		return nil
	}
	funchost.WriteResponse(w, http.StatusOK, "sweep done")
	return nil
}
