package registry

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sync"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/tre"
)

// parseEgress checks the "egress" member of a template schema: the
// firewall rules its resources need, in AzureTRE's shape. Values may hold
// {{ resource.… }} substitutions, so the rules are fully validated only
// when a resource's rules are computed; here the shape is checked (no
// unknown members, right types). Returns CodeInvalid.
func parseEgress(raw any) (map[string]any, error) {
	if raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, tre.FieldErrorf(tre.CodeInvalid, "json_schema.egress", "egress must be an object with rule_collections and network_rule_collections")
	}
	// A value that is one whole {{ resource.… }} token becomes the
	// referenced value, of any type (an array of FQDNs, say): its type is
	// checked after substitution, so here it stands as null.
	b, err := json.Marshal(tokensAsNull(m))
	if err != nil {
		return nil, tre.WrapError(tre.CodeInvalid, err, "egress cannot be read")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rs firewall.RuleSet
	if err := dec.Decode(&rs); err != nil {
		return nil, &tre.Error{Code: tre.CodeInvalid, Field: "json_schema.egress", Err: err,
			Message: "Invalid egress declaration: " + jsonErrorText(err) + " (allowed: rule_collections and network_rule_collections in AzureTRE's shape)"}
	}
	return m, nil
}

var wholeToken = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*\{\{\s*resource\.[^{}]*\}\}\s*$`) })

func tokensAsNull(v any) any {
	switch t := v.(type) {
	case string:
		if wholeToken().MatchString(t) {
			return nil
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = tokensAsNull(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = tokensAsNull(e)
		}
		return out
	}
	return v
}
