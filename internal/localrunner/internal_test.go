package localrunner

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitWordsLikePorter(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"plain", []string{"plain"}},
		{"two words", []string{"two", "words"}},
		{"  padded\tand\nlines ", []string{"padded", "and", "lines"}},
		{`'quoted words' next`, []string{"quoted words", "next"}},
		{`"double quoted" 'single "inner"'`, []string{"double quoted", `single "inner"`}},
		{`escaped\ space`, []string{`escaped\ space`}},
		{"", []string{}},
		{`'unmatched quote`, []string{`'unmatched quote`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, splitWords(tt.in))
		})
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine(
		[]string{"apply", "a b"},
		[]flag{{Name: "f", Values: []string{"x"}}, {Name: "force"}, {Name: "tag", Values: []string{"1", "2"}}, {Name: "empty", Values: []string{""}}},
		[]string{"suffix stays whole"},
	)
	// An empty value disappears in the split, leaving the flag bare, as
	// AzureTRE's bundles rely on (service-principal: "").
	require.Equal(t, []string{"apply", "a", "b", "-f", "x", "--force", "--tag", "1", "--tag", "2", "--empty", "suffix stays whole"}, got)
}

func TestExpand(t *testing.T) {
	c := &templateContext{
		bundleName: "b", bundleVersion: "1.0.0", installation: "inst",
		params:  map[string]string{"p": "v", "log-level": "info"},
		outputs: map[string]string{"o": "out"},
	}
	tests := []struct {
		in, want, err string
	}{
		{in: "${ bundle.parameters.p }-${bundle.parameters.log-level}", want: "v-info"},
		{in: "${ bundle.name }@${ bundle.version } for ${ bundle.installation.name }", want: "b@1.0.0 for inst"},
		{in: "${ bundle.outputs.o }", want: "out"},
		{in: "no templates", want: "no templates"},
		{in: "${ bundle.parameters.nope }", err: "${ bundle.parameters.nope }: no such parameter applies to this action"},
		{in: "${ bundle.credentials.azure_client_secret }", err: "the local runner passes no credentials"},
		{in: "${ bundle.dependencies.db.outputs.x }", err: "the local runner supports bundle.parameters.NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := c.expand(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		v    any
		typ  string
		want string
	}{
		{"text", "string", "text"},
		{true, "boolean", "true"},
		{"False", "boolean", "false"},
		{float64(3), "integer", "3"},
		{"42", "integer", "42"},
		{2.50, "number", "2.5"},
		{1e21, "number", "1000000000000000000000"},
		{[]any{"10.0.0.0/24"}, "string", "WyIxMC4wLjAuMC8yNCJd"},  // base64 of ["10.0.0.0/24"]
		{map[string]any{"a": true}, "string", "eyJhIjp0cnVlfQ=="}, // base64 of {"a":true}
		{7, "string", "7"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v as %s", tt.v, tt.typ), func(t *testing.T) {
			got, err := render(tt.v, tt.typ)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCensorCatchesValuesSplitAcrossWrites(t *testing.T) {
	const secret = "s3cr3t-value"
	text := "line one\nthe value is " + secret + " and again " + secret + "\nlast " + secret
	for size := 1; size <= len(text); size++ {
		var out bytes.Buffer
		c := newCensor(&out, []string{secret, "***"})
		for i := 0; i < len(text); i += size {
			_, err := c.Write([]byte(text[i:min(i+size, len(text))]))
			require.NoError(t, err)
		}
		c.flush()
		require.Equal(t, "line one\nthe value is ******* and again *******\nlast *******", out.String(), "writes of %d bytes", size)
	}
}

func TestCensorPassesWholeLines(t *testing.T) {
	var out bytes.Buffer
	c := newCensor(&out, nil)
	_, _ = c.Write([]byte("first li"))
	require.Empty(t, out.String(), "a partial line waits for its end")
	_, _ = c.Write([]byte("ne\nsecond"))
	require.Equal(t, "first line\n", out.String())
	c.flush()
	require.Equal(t, "first line\nsecond", out.String())

	out.Reset()
	long := strings.Repeat("x", maxLine+10)
	_, _ = c.Write([]byte(long))
	require.Equal(t, long, out.String(), "a line over maxLine is not held back")
}

func TestTail(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		dropped bool
		limit   int
		want    string
	}{
		{"colours and progress", "\x1b[32mok\x1b[0m\r\ndownloading 10%\rdownloading 100%\n\x1b]0;title\x07done  \n\n", false, 100, "ok\ndownloading 100%\ndone"},
		{"last lines kept", "one\ntwo\nthree\nfour\n", false, 15, "...\nthree\nfour"},
		{"cut by the ring", "rtial first line\nsecond\n", true, 100, "...\nsecond"},
		{"one long line", strings.Repeat("a", 50) + "END", false, 24, "...\n" + strings.Repeat("a", 17) + "END"},
		{"empty", "\n\n", false, 100, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tail([]byte(tt.raw), tt.dropped, tt.limit)
			require.Equal(t, tt.want, got)
			require.LessOrEqual(t, len(got), tt.limit)
		})
	}
}

func TestFailureTextKeepsStderrLast(t *testing.T) {
	out := &ring{}
	errs := &ring{}
	for i := range 500 {
		fmt.Fprintf(out, "progress %d\n", i)
	}
	fmt.Fprintln(errs, "\x1b[31mError: it broke\x1b[0m")
	got := failureText(out, errs, 256)
	require.LessOrEqual(t, len(got), 256)
	require.True(t, strings.HasPrefix(got, "...\n"), got)
	require.True(t, strings.HasSuffix(got, "progress 499\nError: it broke"), got)

	require.Equal(t, "Error: it broke", failureText(&ring{}, errs, 256))
}

func TestJSONPath(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b": []any{1.0, map[string]any{"c d": "x"}}}}
	tests := []struct {
		path string
		want any
		err  string
	}{
		{path: "$", want: doc},
		{path: "$.a.b[0]", want: 1.0},
		{path: "$.a.b[1]['c d']", want: "x"},
		{path: `$["a"].b[1]["c d"]`, want: "x"},
		{path: "$.a.nope", err: `no member "nope"`},
		{path: "$.a.b[5]", err: "no element [5]"},
		{path: "$..b", err: "only simple paths"},
		{path: "$.a.b[*]", err: "only simple paths"},
		{path: "a.b", err: "starts with $"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := jsonPath(doc, tt.path)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// A simulated output echoes the parameter of its name; an *_addresses
// string is a list of prefixes, as AzureTRE's processor makes of the JSON
// list those outputs carry; the rest are marked placeholders.
func TestSimulatedOutput(t *testing.T) {
	params := map[string]any{"client_id": "app-1", "address_space": "10.0.4.0/24"}
	require.Equal(t, "app-1", simulatedOutput("string", "client_id", "i-1", params))
	require.Equal(t, []any{"10.0.4.0/24"}, simulatedOutput("string", "web_apps_addresses", "i-1", params))
	require.Equal(t, []any{"192.0.2.0/24"}, simulatedOutput("string", "web_apps_addresses", "i-1", nil))
	require.Equal(t, "simulated-scope_id-i-1", simulatedOutput("string", "scope_id", "i-1", params))
	require.Equal(t, false, simulatedOutput("boolean", "exposed", "i-1", params))
	require.Equal(t, []any{"10.0.4.0/24"}, simulatedOutput("string", "aml_subnet_address_prefixes", "i-1", params))
	require.Equal(t, []any{"log-blob-storage-domains.simulated.invalid"}, simulatedOutput("string", "log_blob_storage_domains", "i-1", params))
	require.Equal(t, "aml-fqdn.simulated.invalid", simulatedOutput("string", "aml_fqdn", "i-1", params))
	require.Equal(t, "Simulated", simulatedOutput("string", "storage_tag", "i-1", params))
	require.Equal(t, []any{"192.0.2.0/24"}, simulatedOutput("string", "workspace_address_space", "i-1", nil), "a JSON list in AzureTRE's bundles")
}
