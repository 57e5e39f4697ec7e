package localrunner

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/tre-go/tre/internal/bundle"
	"github.com/tre-go/tre/internal/tre"
)

// resolvedParam is a parameter's value as the bundle receives it.
type resolvedParam struct {
	def   bundle.Parameter
	value string
}

// reservedEnv are the variables the runner sets itself; a parameter may not
// replace them.
var reservedEnv = map[string]bool{"PATH": true, "HOME": true, envStateDir: true}

var envNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// resolveParams finds the value of every parameter that applies to action,
// with the lookup of the porter runner (bundle.Sources: AzureTRE's order),
// then the parameter's default. A required parameter without a value fails
// before anything runs, with Porter's words. Errors name parameters, never
// their values.
func resolveParams(m *bundle.Manifest, action string, job tre.Job, sources bundle.Sources) ([]resolvedParam, error) {
	var out []resolvedParam
	var missing []string
	for _, p := range m.Parameters {
		if !p.AppliesTo(action) {
			continue
		}
		v, _, _ := sources.Lookup(p.Name, job)
		if v == nil {
			if p.Required() {
				missing = append(missing, p.Name)
				continue
			}
			v = p.Default
		}
		s, err := render(v, p.DataType())
		if err != nil {
			return nil, fmt.Errorf("localrunner: bundle %s %s: parameter %s: %w", m.Name, m.Version, p.Name, err)
		}
		if env := p.EnvName(); env != "" {
			if !envNamePattern().MatchString(env) || reservedEnv[env] || strings.HasPrefix(env, "CNAB_") {
				return nil, fmt.Errorf("localrunner: bundle %s %s: parameter %s: %s cannot be used as its environment variable",
					m.Name, m.Version, p.Name, env)
			}
		}
		out = append(out, resolvedParam{def: p, value: s})
	}
	if err := missingError(m.Name, m.Version, action, missing); err != nil {
		return nil, err
	}
	return out, nil
}

// missingError says which required parameters have no value, in Porter's
// words (parameter "NAME" is required), nil when none.
func missingError(name, version, action string, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	texts := make([]string, len(missing))
	for i, p := range missing {
		texts[i] = fmt.Sprintf("parameter %q is required", p)
	}
	return fmt.Errorf("localrunner: bundle %s %s: %s: %s", name, version, action, strings.Join(texts, "; "))
}

// render turns a parameter value into the text the bundle receives:
// strings as they are, booleans true/false, numbers without trailing
// zeros, objects and arrays as JSON then base64 (as AzureTRE's processor
// passes them). It checks the value against the declared type.
func render(v any, typ string) (string, error) {
	s, err := valueText(v)
	if err != nil {
		return "", err
	}
	return asDeclared(s, typ)
}

// valueText is the text of a value, before its declared type is checked.
func valueText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return formatNumber(f), nil
		}
		return x.String(), nil
	case float64:
		return formatNumber(x), nil
	case float32:
		return formatNumber(float64(x)), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), nil
	}
	k := reflect.ValueOf(v).Kind()
	if k != reflect.Map && k != reflect.Slice && k != reflect.Array {
		return "", fmt.Errorf("a value of type %T cannot be passed to a bundle", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode as JSON: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// asDeclared checks a value's text against the type the bundle declares
// and writes it as that type.
func asDeclared(s, typ string) (string, error) {
	switch typ {
	case "integer":
		if f, err := strconv.ParseFloat(s, 64); err != nil || f != math.Trunc(f) {
			return "", fmt.Errorf("the bundle declares it an integer, and the value is not one")
		}
		f, _ := strconv.ParseFloat(s, 64)
		s = formatNumber(f)
	case "number":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "", fmt.Errorf("the bundle declares it a number, and the value is not one")
		}
		s = formatNumber(f)
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return "", fmt.Errorf("the bundle declares it a boolean, and the value is not true or false")
		}
		s = strconv.FormatBool(b)
	case "file":
		if _, err := decodeBase64(s); err != nil {
			return "", fmt.Errorf("the bundle declares it a file, and the value is not base64")
		}
	}
	return s, nil
}

// formatNumber writes a number without trailing zeros or exponent.
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the value is not base64")
	}
	return b, nil
}
