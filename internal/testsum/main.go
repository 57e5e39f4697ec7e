// Command testsum summarises `go test -json` for people: one line per
// package, the output of every failed test, and one line per skipped
// suite saying why, so that a skipped integration suite or linter is
// visible in a normal run (go test alone hides skips unless -v).
//
//	go test -json ./... | go run ./internal/testsum
//
// It exits 1 when a test, a package or a build failed, or when the input
// had no test results at all.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

// event is one line of test2json (go doc test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

// skipKey groups skipped tests by package and reason.
type skipKey struct{ pkg, reason string }

type summary struct {
	out      io.Writer
	output   map[string][]string // package/test → its output lines
	skips    map[skipKey][]string
	failed   bool
	packages int
}

func run(in io.Reader, out io.Writer) int {
	s := &summary{out: out, output: map[string][]string{}, skips: map[skipKey][]string{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not test2json: a build error, a vet finding
			continue
		}
		s.add(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsum: reading the test output: %v\n", err)
		return 1
	}
	s.printSkips()
	if s.packages == 0 {
		fmt.Fprintln(out, "testsum: no test results in the input")
		return 1
	}
	if s.failed {
		return 1
	}
	return 0
}

func (s *summary) add(e event) {
	key := e.Package + "\x00" + e.Test
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
	case "build-fail":
		s.failed = true
	case "output":
		s.output[key] = append(s.output[key], e.Output)
	case "skip":
		if e.Test == "" {
			s.packages++
			s.printPackage("ok  ", e)
			return
		}
		s.skips[skipKey{e.Package, skipReason(s.output[key])}] = append(s.skips[skipKey{e.Package, skipReason(s.output[key])}], e.Test)
	case "pass":
		if e.Test == "" {
			s.packages++
			s.printPackage("ok  ", e)
		}
	case "fail":
		s.failed = true
		if e.Test != "" {
			fmt.Fprint(s.out, strings.Join(s.output[key], ""))
			return
		}
		s.packages++
		if e.FailedBuild == "" {
			// Output of the package itself (a panic, TestMain) is shown
			// with the failure.
			fmt.Fprint(s.out, strings.Join(s.output[key], ""))
		}
		s.printPackage("FAIL", e)
	}
}

func (s *summary) printPackage(status string, e event) {
	if e.Elapsed > 0 || status != "ok  " {
		fmt.Fprintf(s.out, "%s %-50s %6.1fs\n", status, e.Package, e.Elapsed)
		return
	}
	fmt.Fprintf(s.out, "%s %s (no tests)\n", status, e.Package)
}

// sourceLine is how the testing package prefixes t.Log and t.Skip lines.
var sourceLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`) })

// skipReason is the last message logged before the skip, usually the
// argument of t.Skip.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := sourceLine().FindStringSubmatch(strings.TrimRight(lines[i], "\n")); m != nil {
			return m[1]
		}
	}
	return "no reason given"
}

// printSkips prints one line per package and reason, with how many top
// tests it skipped (subtests of a skipped test are not counted again).
func (s *summary) printSkips() {
	keys := make([]skipKey, 0, len(s.skips))
	for k := range s.skips {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].pkg != keys[j].pkg {
			return keys[i].pkg < keys[j].pkg
		}
		return keys[i].reason < keys[j].reason
	})
	for _, k := range keys {
		tests := s.skips[k]
		what := tests[0]
		if len(tests) > 1 {
			what = fmt.Sprintf("%d tests", len(tests))
		}
		fmt.Fprintf(s.out, "skip %s (%s): %s\n", k.pkg, what, k.reason)
	}
}
