package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSummary(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"m/a"}`,
		`{"Action":"run","Package":"m/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0.01}`,
		`{"Action":"run","Package":"m/a","Test":"TestSlow"}`,
		`{"Action":"output","Package":"m/a","Test":"TestSlow","Output":"    a_test.go:12: Cosmos suite: integration suite, run by make test-integration\n"}`,
		`{"Action":"skip","Package":"m/a","Test":"TestSlow","Elapsed":0}`,
		`{"Action":"run","Package":"m/a","Test":"TestSlow2"}`,
		`{"Action":"output","Package":"m/a","Test":"TestSlow2","Output":"    a_test.go:30: Cosmos suite: integration suite, run by make test-integration\n"}`,
		`{"Action":"skip","Package":"m/a","Test":"TestSlow2","Elapsed":0}`,
		`{"Action":"pass","Package":"m/a","Elapsed":1.5}`,
		`{"Action":"run","Package":"m/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"m/b","Test":"TestBad","Output":"    b_test.go:3: expected 1, got 2\n"}`,
		`{"Action":"fail","Package":"m/b","Test":"TestBad","Elapsed":0.1}`,
		`{"Action":"fail","Package":"m/b","Elapsed":0.2}`,
		`{"Action":"skip","Package":"m/c"}`,
	}, "\n")
	var out bytes.Buffer
	code := run(strings.NewReader(in), &out)
	require.Equal(t, 1, code, "a failed test fails the summary")
	got := out.String()
	require.Contains(t, got, "ok   m/a")
	require.Contains(t, got, "expected 1, got 2", "the failed test's output is shown")
	require.Contains(t, got, "FAIL m/b")
	require.Contains(t, got, "ok   m/c (no tests)")
	require.Contains(t, got, "skip m/a (2 tests): Cosmos suite: integration suite, run by make test-integration")
	require.NotContains(t, got, "=== RUN", "passing tests' output is not shown")
}

func TestSummaryPassAndEmpty(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, 0, run(strings.NewReader(`{"Action":"pass","Package":"m/a","Elapsed":1}`), &out))
	out.Reset()
	require.Equal(t, 1, run(strings.NewReader("# m/a\nvet: bad\n"), &out), "no results is a failure")
	require.Contains(t, out.String(), "vet: bad", "lines that are not test2json are passed through")
}

func TestBuildFailure(t *testing.T) {
	in := `{"ImportPath":"m/a","Action":"build-output","Output":"a.go:1: syntax error\n"}
{"ImportPath":"m/a","Action":"build-fail"}
{"Action":"fail","Package":"m/a","Elapsed":0,"FailedBuild":"m/a"}`
	var out bytes.Buffer
	require.Equal(t, 1, run(strings.NewReader(in), &out))
	require.Contains(t, out.String(), "a.go:1: syntax error")
	require.Contains(t, out.String(), "FAIL m/a")
}
