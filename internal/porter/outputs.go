package porter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// outputs reads the installation's outputs with `porter installations
// output list --installation <installation> --output json`. params are
// the job's parameters, whose values are scrubbed from an error.
func (r *Runner) outputs(ctx context.Context, log *slog.Logger, installation string, params []param) ([]tre.Output, error) {
	args := []string{"installations", "output", "list", "--installation", installation, "--output", "json"}
	var secrets []string
	for _, p := range params {
		secrets = append(secrets, p.secrets...)
	}
	out, err := r.run(ctx, log, command{
		what:    "porter installations output list",
		path:    r.porter,
		args:    args,
		shown:   "porter " + strings.Join(args, " "),
		secrets: secrets,
		capture: true,
	})
	if err != nil {
		return nil, err
	}
	return parseOutputs(out)
}

// parseOutputs decodes porter's output list. Porter prints object and list
// outputs as strings with escaped quotes; like AzureTRE, a string value
// holding "{" or "[" is decoded as JSON once its backslashes are removed,
// and kept as the string when that is not JSON.
func parseOutputs(out []byte) ([]tre.Output, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	var list []struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		// The text is not quoted: it may hold output values.
		return nil, fmt.Errorf("porter installations output list printed no output list: %w", err)
	}
	var outputs []tre.Output
	for _, o := range list {
		outputs = append(outputs, tre.Output{Name: o.Name, Value: decodeOutputValue(o.Value), Type: o.Type})
	}
	return outputs, nil
}

func decodeOutputValue(v any) any {
	s, ok := v.(string)
	if !ok || !strings.ContainsAny(s, "{[") {
		return v
	}
	var decoded any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(s, `\`, "")), &decoded); err != nil {
		return s
	}
	return decoded
}
