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

	"github.com/tre-go/tre/internal/bundle"
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

// parameters looks up the value of each named parameter (bundle.Sources:
// AzureTRE's order) and encodes it. Parameters without a value are left
// out: porter uses the bundle's default, or names the missing required
// parameter itself.
func (r *Runner) parameters(job tre.Job, names []string) ([]param, error) {
	var params []param
	for _, name := range names {
		v, src, ok := r.sources.Lookup(name, job)
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
		if src == bundle.FromRequest || src == bundle.FromAgent || src == bundle.FromBundleSetting {
			p.secrets = secretsOf(v, value)
		}
		params = append(params, p)
	}
	return params, nil
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
