package porter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// minSecretLen is the shortest parameter value scrubbed from quoted
// output: shorter ones ("1", "yes") would blot out ordinary words and are
// no credentials.
const minSecretLen = 4

// param is one --param of a porter command.
type param struct {
	name  string
	value string
	// secrets are the strings of the value that may be confidential:
	// the value as passed and, for maps and lists, their string leaves.
	secrets []string
}

// explain returns the names of the bundle's parameters, sorted, from
// `porter explain --reference <ref> --output json`.
func (r *Runner) explain(ctx context.Context, log *slog.Logger, ref string) ([]string, error) {
	args := []string{"explain", "--reference", ref, "--output", "json"}
	out, err := r.run(ctx, log, command{
		what:    "porter explain",
		path:    r.porter,
		args:    args,
		shown:   "porter " + strings.Join(args, " "),
		capture: true,
	})
	if err != nil {
		return nil, err
	}
	var bundle struct {
		Parameters []struct {
			Name string `json:"name"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(out, &bundle); err != nil {
		return nil, fmt.Errorf("porter explain printed no bundle description: %w", err)
	}
	var names []string
	for _, p := range bundle.Parameters {
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	// Sorted: the same job gives the same command line.
	slices.Sort(names)
	return slices.Compact(names), nil
}

// source is where a parameter's value was found.
type source int

const (
	fromJob source = iota
	fromAgent
	fromMessage
	fromSpecial
	fromBundle
)

// parameters looks up the value of each named parameter and encodes it.
// Parameters without a value are left out: porter uses the bundle's
// default, or names the missing required parameter itself.
func (r *Runner) parameters(job tre.Job, names []string) ([]param, error) {
	root, err := messageRoot(job.Message)
	if err != nil {
		return nil, err
	}
	var params []param
	for _, name := range names {
		v, src, ok := r.lookup(name, job, root)
		if !ok {
			continue
		}
		value, ok, err := formatValue(v)
		if err != nil {
			// The value is not quoted: it may be a secret.
			return nil, tre.WrapError(tre.CodeInvalid, err, "porter: the value of parameter %s cannot be passed to porter", name)
		}
		if !ok {
			continue
		}
		p := param{name: name, value: value}
		// Identifiers from the message (id, workspace_id) are in the
		// status message anyway; values of the other sources may be
		// credentials.
		if src == fromJob || src == fromAgent || src == fromBundle {
			p.secrets = secretsOf(v, value)
		}
		params = append(params, p)
	}
	return params, nil
}

// lookup finds a parameter's value in AzureTRE's order: the message's
// parameters, the agent's configuration, a root field of the message, the
// special names, the RP_BUNDLE_* variables. The first source that has the
// name decides, as in AzureTRE: a parameter present with a null value is
// left out rather than taken from a later source.
func (r *Runner) lookup(name string, job tre.Job, root map[string]any) (any, source, bool) {
	if v, ok := job.Parameters[name]; ok {
		return v, fromJob, true
	}
	if v, ok := r.agent[name]; ok {
		return v, fromAgent, true
	}
	if v, ok := root[name]; ok {
		return v, fromMessage, true
	}
	if v := r.special(name, job.Message); v != "" {
		return v, fromSpecial, true
	}
	if v, ok := r.bundle[name]; ok {
		return v, fromBundle, true
	}
	return nil, 0, false
}

// special returns the value of a parameter whose name differs from where
// its value is kept, "" if there is none. (AzureTRE's azure_environment
// and arm_environment come from the agent's configuration: AgentParameters
// has them.)
func (r *Runner) special(name string, msg *tre.ResourceRequest) string {
	switch name {
	case "mgmt_acr_name":
		acr, _, _ := strings.Cut(r.registry, ".")
		return acr
	}
	if msg == nil {
		return ""
	}
	switch name {
	case "workspace_id":
		return msg.WorkspaceID
	case "parent_service_id":
		return msg.ParentWorkspaceServiceID
	case "owner_id":
		return msg.OwnerID
	}
	return ""
}

// messageRoot returns the request's root fields by their JSON names, as
// AzureTRE's agent sees the message body.
func messageRoot(msg *tre.ResourceRequest) (map[string]any, error) {
	if msg == nil {
		return nil, nil
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("porter: encode request: %w", err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("porter: decode request: %w", err)
	}
	return root, nil
}

// formatValue returns a parameter value as porter's --param takes it:
// strings as they are, booleans true/false, numbers in their shortest
// decimal form (3, not 3.0), maps and lists as base64 (standard, padded)
// of their JSON, which AzureTRE's bundles base64decode. ok is false for a
// null value.
func formatValue(v any) (s string, ok bool, err error) {
	switch v := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return v, true, nil
	case bool:
		return strconv.FormatBool(v), true, nil
	case float64:
		return formatFloat(v, 64)
	case float32:
		return formatFloat(float64(v), 32)
	case int:
		return strconv.Itoa(v), true, nil
	case int64:
		return strconv.FormatInt(v, 10), true, nil
	case int32:
		return strconv.FormatInt(int64(v), 10), true, nil
	case uint64:
		return strconv.FormatUint(v, 10), true, nil
	case json.Number:
		return v.String(), true, nil
	case map[string]any:
		if v == nil {
			return "", false, nil
		}
		return encodeJSON(v)
	case []any:
		if v == nil {
			return "", false, nil
		}
		return encodeJSON(v)
	}
	// Any other type (map[string]string, []string, a struct) is passed
	// as its JSON form would be.
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", false, err
	}
	return formatValue(generic)
}

func formatFloat(f float64, bits int) (string, bool, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false, fmt.Errorf("number %v has no decimal form", f)
	}
	return strconv.FormatFloat(f, 'f', -1, bits), true, nil
}

func encodeJSON(v any) (string, bool, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Bundles decode the JSON; escaping <, > and & would only make it
	// harder to read in porter's logs.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false, err
	}
	return base64.StdEncoding.EncodeToString(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), true, nil
}

// secretsOf returns the strings of a parameter value that may be
// confidential: a string, or a map's or list's string leaves and its
// encoded form. Booleans and numbers are no credentials, and scrubbing
// "true" or "3" would blot out the output.
func secretsOf(v any, encoded string) []string {
	switch v.(type) {
	case string:
		return []string{encoded}
	case map[string]any, []any:
		return append(stringLeaves(v, nil), encoded)
	}
	return nil
}

// stringLeaves appends the strings inside a map or list value to dst.
func stringLeaves(v any, dst []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			dst = stringLeaves(e, dst)
		}
	case []any:
		for _, e := range v {
			dst = stringLeaves(e, dst)
		}
	case string:
		dst = append(dst, v)
	}
	return dst
}
