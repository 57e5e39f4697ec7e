package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// resolve reads the request's secrets and returns the parameters with
// their values in place, and the values (to redact them from output).
func (a *Agent) resolve(ctx context.Context, req *tre.ResourceRequest) ([]string, map[string]any, error) {
	params := deepCopy(req.Parameters)
	if params == nil {
		params = map[string]any{}
	}
	var values []string
	pointers := make([]string, 0, len(req.SecretRefs))
	for p := range req.SecretRefs {
		pointers = append(pointers, p)
	}
	sort.Strings(pointers)
	for _, p := range pointers {
		if a.secrets == nil {
			return values, params, fmt.Errorf("sensitive parameter %s: this agent has no secret store", p)
		}
		raw, err := a.secrets.Get(ctx, req.SecretRefs[p])
		if err != nil {
			return values, params, fmt.Errorf("sensitive parameter %s cannot be read from the secret store: %s", p, tre.ErrorMessage(err))
		}
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return values, params, fmt.Errorf("sensitive parameter %s is not stored as JSON", p)
		}
		if !tre.PointerSet(params, p, v) {
			return values, params, fmt.Errorf("sensitive parameter %s is not in the request", p)
		}
		collectStrings(v, &values)
	}
	return values, params, nil
}

func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case map[string]any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	}
}

// redactor replaces secret values (of 4 characters or more) by ***.
func redactor(secrets []string) func(string) string {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, "***")
		}
	}
	if len(pairs) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
