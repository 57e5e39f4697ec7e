package localrunner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// stepOutputs extracts an exec step's outputs as text: a file's contents,
// every capture group of every match of a regular expression over stdout
// (one per line, as Porter writes them), or the JSON at a path into stdout.
func (rc *runContext) stepOutputs(s execStep, stdout []byte, stdoutTruncated bool) (map[string]string, error) {
	out := map[string]string{}
	var doc any
	parsed := false
	for _, o := range s.Outputs {
		switch {
		case o.Path != "":
			p, err := rc.mapPath(o.Path)
			if err != nil {
				return nil, fmt.Errorf("output %s: %w", o.Name, err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("output %s: the step wrote no file at %s", o.Name, o.Path)
			}
			out[o.Name] = trimNewlines(string(b))
		case o.Regex != "":
			if stdoutTruncated {
				return nil, fmt.Errorf("output %s: the step's stdout is over %d bytes, too much to search", o.Name, maxStdout)
			}
			re, err := regexp.Compile(o.Regex)
			if err != nil {
				return nil, fmt.Errorf("output %s: invalid regular expression: %w", o.Name, err)
			}
			var matches []string
			for _, m := range re.FindAllStringSubmatch(string(stdout), -1) {
				matches = append(matches, m[1:]...)
			}
			out[o.Name] = strings.Join(matches, "\n")
		case o.JSONPath != "":
			if stdoutTruncated {
				return nil, fmt.Errorf("output %s: the step's stdout is over %d bytes, too much to parse", o.Name, maxStdout)
			}
			if !parsed {
				if err := json.Unmarshal(stdout, &doc); err != nil {
					return nil, fmt.Errorf("output %s: the step's stdout is not JSON: %w", o.Name, err)
				}
				parsed = true
			}
			v, err := jsonPath(doc, o.JSONPath)
			if err != nil {
				return nil, fmt.Errorf("output %s: jsonPath %s: %w", o.Name, o.JSONPath, err)
			}
			if str, ok := v.(string); ok {
				out[o.Name] = str
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("output %s: %w", o.Name, err)
			}
			out[o.Name] = string(b)
		}
	}
	return out, nil
}

// trimNewlines drops the line ends a script leaves at the end of a file
// (echo value > file), which are never part of the value.
func trimNewlines(s string) string { return strings.TrimRight(s, "\r\n") }

var pathSegment = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\])`)
})

// jsonPath follows a simple JSON path ($.a.b[0]['c']) into doc. Wildcards,
// filters and recursive descent are not supported.
func jsonPath(doc any, path string) (any, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(path), "$")
	if !ok {
		return nil, errors.New("a JSON path starts with $")
	}
	cur := doc
	for rest != "" {
		m := pathSegment().FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("the local runner supports only simple paths like $.a.b[0]['c'], not %q", rest)
		}
		rest = rest[len(m[0]):]
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			arr, ok := cur.([]any)
			if !ok || i >= len(arr) {
				return nil, fmt.Errorf("no element [%d]", i)
			}
			cur = arr[i]
			continue
		}
		key := m[1] + m[3] + m[4]
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no member %q", key)
		}
		if cur, ok = obj[key]; !ok {
			return nil, fmt.Errorf("no member %q", key)
		}
	}
	return cur, nil
}

// typedOutput converts an output's text to its declared type, shaped as
// JSON carries it (numbers are float64), as the status message will.
func typedOutput(text, typ string) (any, error) {
	switch typ {
	case "boolean":
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, errors.New("the bundle declares it a boolean, and the value is not true or false")
		}
		return b, nil
	case "integer", "number":
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || (typ == "integer" && f != float64(int64(f))) {
			return nil, fmt.Errorf("the bundle declares it %s, and the value is not one", article(typ))
		}
		return f, nil
	case "object", "array":
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, fmt.Errorf("the bundle declares it %s, and the value is not JSON", article(typ))
		}
		_, isObj := v.(map[string]any)
		_, isArr := v.([]any)
		if (typ == "object" && !isObj) || (typ == "array" && !isArr) {
			return nil, fmt.Errorf("the bundle declares it %s, and the value is other JSON", article(typ))
		}
		return v, nil
	}
	return text, nil
}

func article(typ string) string {
	if strings.ContainsRune("aeiou", rune(typ[0])) {
		return "an " + typ
	}
	return "a " + typ
}
