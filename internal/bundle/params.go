package bundle

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Source says where a parameter's value was found.
type Source string

// The places a parameter's value comes from, in the order they are tried.
const (
	// FromRequest: the request's parameters (the resource's properties,
	// sensitive ones resolved).
	FromRequest Source = "request"
	// FromAgent: the processor's configuration, by AzureTRE's key.
	FromAgent Source = "agent"
	// FromMessage: a root member of the request message.
	FromMessage Source = "message"
	// FromSpecial: a name AzureTRE's processor maps to another value.
	FromSpecial Source = "special"
	// FromBundleSetting: an RP_BUNDLE_<NAME> variable of the processor.
	FromBundleSetting Source = "rp_bundle"
)

// Sources are where the Resource Processor finds a bundle parameter's value
// besides the request: AzureTRE's processor's configuration and its
// RP_BUNDLE_* variables. Lookup tries them in AzureTRE's order
// (resource_processor/helpers/commands.py, build_porter_command).
type Sources struct {
	// Agent is the processor's configuration by AzureTRE's configuration
	// key (AgentKeys): tfstate_container_name, arm_environment, ...
	Agent map[string]string
	// Bundle are the RP_BUNDLE_<X> variables, by lower-case <x>.
	Bundle map[string]string
}

// Check reports Agent keys that are not AzureTRE's configuration keys: a
// misspelt key would silently pass nothing.
func (s Sources) Check() error {
	var unknown []string
	for k := range s.Agent {
		if !slices.ContainsFunc(agentRules, func(r rule) bool { return r.name == k }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("unknown agent parameters %s (known: %s)", strings.Join(unknown, ", "), strings.Join(AgentKeys(), ", "))
}

// AgentKeys are the configuration keys of AzureTRE's processor a bundle
// parameter may be named after, in the order of docs/bundle-parameters.md.
func AgentKeys() []string {
	out := make([]string, len(agentRules))
	for i, r := range agentRules {
		out[i] = r.name
	}
	return out
}

// Lookup finds the value of the bundle parameter name for job, in AzureTRE's
// order: the request's parameters; the processor's configuration; a root
// member of the request message; the special names (mgmt_acr_name,
// mgmt_resource_group_name, workspace_id, parent_service_id, owner_id); an
// RP_BUNDLE_<NAME> variable. The first place that knows the name decides,
// as in AzureTRE: found is true and value nil when it holds no value (the
// parameter is then left out, and its default applies).
func (s Sources) Lookup(name string, job tre.Job) (value any, from Source, found bool) {
	if v, ok := job.Parameters[name]; ok {
		return v, FromRequest, true
	}
	for _, group := range [][]rule{agentRules, messageRules, specialRules} {
		for _, r := range group {
			if r.name == name {
				if v, ok := r.value(s, job); ok {
					return v, r.from, true
				}
			}
		}
	}
	if v, ok := s.Bundle[strings.ToLower(name)]; ok {
		return v, FromBundleSetting, true
	}
	return nil, "", false
}

// rule is a parameter name the processor gives a value to outside the
// request's parameters.
type rule struct {
	name string
	from Source
	// ours says where our processor takes the value: the "Ours" column of
	// docs/bundle-parameters.md.
	ours string
	// value returns the value; ok false lets the lookup go on.
	value func(s Sources, job tre.Job) (v any, ok bool)
}

// Rule describes one parameter name the processor finds a value for
// outside the request's parameters, for docs/bundle-parameters.md.
type Rule struct {
	Name string
	From Source
	// Ours says where our processor takes the value.
	Ours string
}

// Rules lists, in lookup order, every parameter name the processor finds a
// value for outside the request's parameters (RP_BUNDLE_<NAME> aside).
func Rules() []Rule {
	var out []Rule
	for _, group := range [][]rule{agentRules, messageRules, specialRules} {
		for _, r := range group {
			out = append(out, Rule{Name: r.name, From: r.from, Ours: r.ours})
		}
	}
	return out
}

// agent is a rule for a key of AzureTRE's processor configuration: the
// agent's value, else AzureTRE's default for it. The key always decides,
// as it is always in AzureTRE's configuration: without a value the
// parameter is left out.
func agent(key, ours, def string) rule {
	return rule{name: key, from: FromAgent, ours: ours, value: func(s Sources, _ tre.Job) (any, bool) {
		if v := s.Agent[key]; v != "" {
			return v, true
		}
		if def != "" {
			return def, true
		}
		return nil, true
	}}
}

// agentRules are the keys of AzureTRE's processor configuration
// (resource_processor/shared/config.py) that carry a value a bundle may
// take. Its other keys (queues, process count, secrets, porter's
// environment) are never passed here; docs/bundle-parameters.md lists
// them.
var agentRules = []rule{
	agent("registry_server", "REGISTRY_SERVER", ""),
	agent("tfstate_container_name", "TERRAFORM_STATE_CONTAINER_NAME", ""),
	agent("tfstate_resource_group_name", "MGMT_RESOURCE_GROUP_NAME", ""),
	agent("tfstate_storage_account_name", "MGMT_STORAGE_ACCOUNT_NAME", ""),
	agent("vmss_msi_id", "VMSS_MSI_ID", ""),
	agent("key_vault_url", "KEY_VAULT_URL", ""),
	agent("arm_environment", "ARM_ENVIRONMENT (public when the processor gives none)", "public"),
	agent("azure_environment", "AZURE_ENVIRONMENT (AzureCloud when the processor gives none)", "AzureCloud"),
	agent("aad_authority_url", "AAD_AUTHORITY_URL (https://login.microsoftonline.com when the processor gives none)", "https://login.microsoftonline.com"),
	agent("microsoft_graph_fqdn", "MICROSOFT_GRAPH_FQDN, its host (graph.microsoft.com when the processor gives none)", "graph.microsoft.com"),
	agent("arm_use_msi", "ARM_USE_MSI (false when the processor gives none, AzureTRE's default)", "false"),
	agent("arm_subscription_id", "AZURE_SUBSCRIPTION_ID", ""),
	agent("arm_client_id", "ARM_CLIENT_ID", ""),
	agent("arm_tenant_id", "AZURE_TENANT_ID", ""),
}

// message is a rule for a root member of the request message. Our
// additions to the message (resourceType, secretRefs, attempt, notAfter)
// are not AzureTRE's and are never passed.
func message(key, ours string, get func(tre.Job) any) rule {
	return rule{name: key, from: FromMessage, ours: ours, value: func(_ Sources, job tre.Job) (any, bool) {
		v := get(job)
		if s, ok := v.(string); ok && s == "" || v == nil {
			return nil, false
		}
		return v, true
	}}
}

// msgField returns a field of the request message, or of the job when it
// has no message (the local runner's jobs from tests and tools).
func msgField(fromMsg func(*tre.ResourceRequest) string, fromJob func(tre.Job) string) func(tre.Job) any {
	return func(job tre.Job) any {
		if job.Message != nil {
			return fromMsg(job.Message)
		}
		if fromJob != nil {
			return fromJob(job)
		}
		return ""
	}
}

var messageRules = []rule{
	message("operationId", "the request's operationId", msgField(func(m *tre.ResourceRequest) string { return m.OperationID }, nil)),
	message("stepId", "the request's stepId", msgField(func(m *tre.ResourceRequest) string { return m.StepID }, nil)),
	message("action", "the request's action", msgField(func(m *tre.ResourceRequest) string { return m.Action },
		func(j tre.Job) string { return j.Action })),
	message("id", "the request's id: the resource id (the installation)", msgField(func(m *tre.ResourceRequest) string { return m.ID },
		func(j tre.Job) string { return j.Installation })),
	message("name", "the request's name: the template name", msgField(func(m *tre.ResourceRequest) string { return m.Name },
		func(j tre.Job) string { return j.Bundle })),
	message("version", "the request's version: the template version", msgField(func(m *tre.ResourceRequest) string { return m.Version },
		func(j tre.Job) string { return j.Version })),
	message("parameters", "the request's parameters as sent (sensitive ones as references), JSON in base64", func(j tre.Job) any {
		if j.Message == nil || j.Message.Parameters == nil {
			return nil
		}
		return j.Message.Parameters
	}),
	message("workspaceId", "the request's workspaceId (workspace services, user resources)", msgField(func(m *tre.ResourceRequest) string { return m.WorkspaceID }, nil)),
	message("ownerId", "the request's ownerId (user resources)", msgField(func(m *tre.ResourceRequest) string { return m.OwnerID }, nil)),
	message("parentWorkspaceServiceId", "the request's parentWorkspaceServiceId (user resources)",
		msgField(func(m *tre.ResourceRequest) string { return m.ParentWorkspaceServiceID }, nil)),
}

// special is a rule for a name AzureTRE's processor maps to another value.
// It decides: without a value the parameter is left out.
func special(name, ours string, get func(Sources, tre.Job) string) rule {
	return rule{name: name, from: FromSpecial, ours: ours, value: func(s Sources, job tre.Job) (any, bool) {
		if v := get(s, job); v != "" {
			return v, true
		}
		return nil, true
	}}
}

var specialRules = []rule{
	special("mgmt_acr_name", "the first label of REGISTRY_SERVER", func(s Sources, _ tre.Job) string {
		acr, _, _ := strings.Cut(s.Agent["registry_server"], ".")
		return acr
	}),
	special("mgmt_resource_group_name", "MGMT_RESOURCE_GROUP_NAME (as tfstate_resource_group_name)", func(s Sources, _ tre.Job) string {
		return s.Agent["tfstate_resource_group_name"]
	}),
	special("workspace_id", "the request's workspaceId: the workspace's full id (a workspace's own workspace_id property, its last 4 characters, comes first)",
		func(_ Sources, job tre.Job) string {
			if job.Message == nil {
				return ""
			}
			return job.Message.WorkspaceID
		}),
	special("parent_service_id", "the request's parentWorkspaceServiceId", func(_ Sources, job tre.Job) string {
		if job.Message == nil {
			return ""
		}
		return job.Message.ParentWorkspaceServiceID
	}),
	special("owner_id", "the request's ownerId", func(_ Sources, job tre.Job) string {
		if job.Message == nil {
			return ""
		}
		return job.Message.OwnerID
	}),
}
