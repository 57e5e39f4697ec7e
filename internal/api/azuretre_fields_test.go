package api_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every field of AzureTRE's response models is in the answers of our
// routes that stand for them (testdata/azuretre-fields.txt, checked against
// the shapes golden, which TestResponseShapes holds true of the code):
// AzureTRE's CLI, UI and e2e suite read them.
func TestAzureTREFieldsAnswered(t *testing.T) {
	golden, err := os.ReadFile("testdata/response-shapes.golden")
	require.NoError(t, err)
	shapes := byRoute(string(golden))
	data, err := os.ReadFile("testdata/azuretre-fields.txt")
	require.NoError(t, err)
	macros := map[string][]string{}
	checked := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		route, fields, ok := strings.Cut(line, "\t")
		require.True(t, ok, "line %q has no tab", line)
		if !strings.Contains(route, " ") {
			macros[route] = strings.Fields(fields)
			continue
		}
		shape, found := shapes[route]
		require.True(t, found, "no answer of %s in the shapes golden", route)
		for _, f := range strings.Fields(fields) {
			for _, path := range expand(f, macros) {
				require.Regexp(t, `(?m)^\t`+regexp.QuoteMeta(path)+` `, shape, "%s answers without AzureTRE's %s", route, path)
				checked++
			}
		}
	}
	require.Greater(t, checked, 150)
}

// expand replaces a trailing macro name (".workspace.R") by its fields.
func expand(f string, macros map[string][]string) []string {
	i := strings.LastIndex(f, ".")
	if fields, ok := macros[f[i+1:]]; ok {
		out := make([]string, len(fields))
		for j, field := range fields {
			out[j] = f[:i+1] + field
		}
		return out
	}
	return []string{f}
}
