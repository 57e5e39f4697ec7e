package localrunner

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// templateContext holds what ${ bundle.… } expressions refer to.
type templateContext struct {
	bundleName, bundleVersion string
	installation              string
	// params are the rendered values of the parameters that apply to the
	// action.
	params map[string]string
	// outputs are the outputs of earlier steps of this run, then of earlier
	// runs of the installation.
	outputs map[string]string
}

var expression = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{\s*([^{}]*?)\s*\}`) })

// expand renders Porter's ${ bundle.… } expressions in s. An expression it
// does not know is an error that names it (never a value).
func (c *templateContext) expand(s string) (string, error) {
	var firstErr error
	out := expression().ReplaceAllStringFunc(s, func(m string) string {
		expr := strings.TrimSpace(expression().FindStringSubmatch(m)[1])
		v, err := c.lookup(expr)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("${ %s }: %w", expr, err)
		}
		return v
	})
	return out, firstErr
}

func (c *templateContext) lookup(expr string) (string, error) {
	switch expr {
	case "bundle.name":
		return c.bundleName, nil
	case "bundle.version":
		return c.bundleVersion, nil
	case "bundle.installation.name":
		return c.installation, nil
	}
	if name, ok := strings.CutPrefix(expr, "bundle.parameters."); ok {
		v, ok := c.params[name]
		if !ok {
			return "", errors.New("no such parameter applies to this action")
		}
		return v, nil
	}
	if name, ok := strings.CutPrefix(expr, "bundle.outputs."); ok {
		v, ok := c.outputs[name]
		if !ok {
			return "", errors.New("no earlier step or run produced this output")
		}
		return v, nil
	}
	if strings.HasPrefix(expr, "bundle.credentials.") {
		return "", errors.New("the local runner passes no credentials: it runs without Azure")
	}
	return "", errors.New("the local runner supports bundle.parameters.NAME, bundle.outputs.NAME, bundle.installation.name, bundle.name and bundle.version")
}

// commandLine builds an exec step's arguments the way Porter's exec mixin
// does: the arguments, then the flags sorted by name (--name value, -n
// value for one-letter names, repeated per value, bare when it has none),
// all split on whitespace unless quoted, then the suffix arguments as they
// are.
func commandLine(args []string, flags []flag, suffix []string) []string {
	var out []string
	out = append(out, args...)
	for _, f := range flags {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		if len(f.Values) == 0 {
			out = append(out, dash+f.Name)
		}
		for _, v := range f.Values {
			out = append(out, dash+f.Name, v)
		}
	}
	var split []string
	for _, a := range out {
		split = append(split, splitWords(a)...)
	}
	return append(split, suffix...)
}

// splitWords splits s into words the way Porter's exec mixin does, so that
// bundles behave here as they will under Porter: whitespace separates
// words, a quoted word keeps its whitespace (the quotes are dropped), a
// backslash keeps the next character from ending a word, and an empty
// string disappears. An unmatched quote leaves s whole.
func splitWords(s string) []string {
	words := []string{}
	next := s
	for len(next) > 0 {
		word, rest, ok := nextWord(next)
		if !ok {
			return []string{s}
		}
		next = rest
		words = append(words, word)
	}
	return words
}

// nextWord follows Porter's findNextWord, quirks included (a quote that
// opens mid-word drops the word's first character, as there).
func nextWord(input string) (word, rest string, ok bool) {
	var buf bytes.Buffer
	input = strings.TrimLeft(input, " \n\t")
	var escaped bool
	var start, stop int
	var closing rune
	for i, r := range input {
		if escaped {
			r = -1
			escaped = false
		}
		switch r {
		case '\\':
			escaped = true
			continue
		case closing:
			stop = i
			closing = 0
		case '\'', '"':
			if closing != 0 {
				continue
			}
			start = 1
			closing = r
		case ' ', '\t', '\n':
			if closing != 0 {
				continue
			}
			start = 0
			stop = i
		}
		if stop > 0 {
			buf.WriteString(input[start:stop])
			return buf.String(), input[stop+1:], true
		}
	}
	if closing != 0 {
		return "", "", false
	}
	return input, "", true
}

// expandAll renders the expressions of every string of in.
func (c *templateContext) expandAll(in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, a := range in {
		v, err := c.expand(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
