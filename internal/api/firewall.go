package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/tre-go/tre/internal/egress"
	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
)

// FunctionFirewallReconcile is the timer that runs pending firewall steps
// and brings the firewall back to the declared state (drift, a crash
// between marking a step sent and running it).
const FunctionFirewallReconcile = "firewall-reconcile"

// Not in AzureTRE: there, egress rules are pipeline steps on the firewall
// shared service and admins edit them by hand in its properties. Here the
// firewall service derives them from the resources and shows them.
func (a *API) firewallRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/firewall", Access: treAdmin, Status: 200,
			Summary: "The firewall: the rules the resources and admins declare, what the firewall has, and who is left out and why", Handle: a.getFirewall},
		{Method: "POST", Pattern: "/api/firewall/reconcile", Access: treAdmin, Status: 200,
			Summary: "Make the firewall match the declared rules now", Handle: a.reconcileFirewall},
		{Method: "GET", Pattern: "/api/firewall/manual-rules", Access: treAdmin, Status: 200,
			Summary: "Admins' rule sets (they take precedence over the resources' rules)", Handle: a.listManualRules},
		{Method: "GET", Pattern: "/api/firewall/manual-rules/{name}", Access: treAdmin, Status: 200,
			Summary: "One admin rule set", Handle: a.getManualRules},
		{Method: "PUT", Pattern: "/api/firewall/manual-rules/{name}", Access: treAdmin, Status: 200, Request: firewall.RuleSet{},
			Summary: "Create or replace an admin rule set (rule_collections, network_rule_collections); the firewall is updated in the background", Handle: a.putManualRules},
		{Method: "DELETE", Pattern: "/api/firewall/manual-rules/{name}", Access: treAdmin, Status: 200,
			Summary: "Delete an admin rule set; the firewall is updated in the background", Handle: a.deleteManualRules},
	}
}

func (a *API) getFirewall(w http.ResponseWriter, r *http.Request) error {
	v, err := a.Firewall.View(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, firewallOf(v))
	return nil
}

func (a *API) reconcileFirewall(w http.ResponseWriter, r *http.Request) error {
	st, err := a.Firewall.Sync(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, reconcileOf(st))
	return nil
}

func (a *API) listManualRules(w http.ResponseWriter, r *http.Request) error {
	list, err := a.Firewall.ManualRuleSets(r.Context())
	if err != nil {
		return err
	}
	out := make([]ManualRuleSet, len(list))
	for i, m := range list {
		out[i] = manualRuleSetOf(m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"manualRules": out})
	return nil
}

func (a *API) getManualRules(w http.ResponseWriter, r *http.Request) error {
	m, err := a.Firewall.ManualRuleSet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, manualRuleSetOf(m))
	return nil
}

func (a *API) putManualRules(w http.ResponseWriter, r *http.Request) error {
	var rs firewall.RuleSet
	if err := a.decodeJSON(w, r, &rs, true); err != nil {
		return err
	}
	m, err := a.Firewall.PutManualRules(r.Context(), r.PathValue("name"), rs, userOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, manualRuleSetOf(m))
	return nil
}

func (a *API) deleteManualRules(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.Firewall.DeleteManualRules(r.Context(), name, userOf(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "result": "deleted"})
	return nil
}

// firewallReconcile is the timer trigger: run the firewall steps that are
// due, then reconcile (which also removes drift).
func (a *API) firewallReconcile(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.decodeInvocation(w, r); err != nil {
		return err
	}
	if !a.Firewall.Enabled() {
		funchost.WriteResponse(w, http.StatusOK, "the firewall service is off")
		return nil
	}
	// Azure Firewall takes minutes per policy update: the run stops
	// within its share of the host's functionTimeout, keeping what it
	// wrote, and the next run resumes from what the firewall has.
	ctx := r.Context()
	if a.TimerBudget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, a.TimerBudget, errTimeUp)
		defer cancel()
	}
	err := a.Firewall.RunSteps(ctx)
	if err == nil {
		var st *egress.Report
		if st, err = a.Firewall.Sync(ctx); err == nil {
			funchost.WriteResponse(w, http.StatusOK, firewallSummary(st))
			return nil
		}
	}
	if errors.Is(context.Cause(ctx), errTimeUp) && r.Context().Err() == nil {
		loggerOf(ctx, a.log()).Warn("firewall reconcile stopped at its time budget; the next run resumes",
			"budget", a.TimerBudget.String(), "error", err.Error())
		funchost.WriteResponse(w, http.StatusOK, "firewall reconcile: the time budget ("+a.TimerBudget.String()+
			") ran out; the next run resumes")
		return nil
	}
	return a.timerFailed(ctx, w, "firewall reconcile", err)
}

// errTimeUp is the cause of a timer invocation's context ending at its
// time budget.
var errTimeUp = errors.New("the invocation's time budget ran out")

func (a *API) timerFailed(ctx context.Context, w http.ResponseWriter, what string, err error) error {
	loggerOf(ctx, a.log()).Error(what+" incomplete", "error", err.Error())
	funchost.WriteResponse(w, http.StatusInternalServerError, what+" incomplete: "+tre.ErrorMessage(err))
	return nil
}

func firewallSummary(st *egress.Report) string {
	msg := "firewall in sync"
	if n := len(st.Result.Written) + len(st.Result.Deleted); n > 0 {
		msg = "firewall updated"
	}
	if len(st.Problems) > 0 {
		msg += "; owners left out: "
		for i, p := range st.Problems {
			if i > 0 {
				msg += ", "
			}
			msg += p.Owner.String()
		}
	}
	return msg
}
