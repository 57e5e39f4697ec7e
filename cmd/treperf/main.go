// Command treperf measures the figures of docs/PERFORMANCE.md, each beside
// its floor measured in the same run (the machine it runs on may be shared
// and noisy: only ratios measured together compare), and prints the ratio
// and the target of each.
//
//	go build -o bin/tre-handler ./handlers && go build -o bin/bare ./cmd/treperf/bare
//	go run ./cmd/treperf [-rounds 3] [-workspaces 10000] all
//
// `make bench` does exactly that. Figures (each can be run alone):
//
//	coldstart  exec to the first 200 of /api/health: a bare server, the handler
//	           on an empty store it has started on once, on the seeded one
//	           (after seed), and on a new data directory (its first start)
//	seed       create -workspaces workspaces with 16 clients, in batches of 500
//	get        GET one workspace (10,000 in the store) beside the same
//	           document served by the bare server; the CPU time each server
//	           spends per request
//	list       GET all workspaces beside the same bytes from the bare server;
//	           pages of 100; the handler's RSS after
//	commits    fsynced commits per workspace, POST to deployed (strace)
//	ingest     status messages ingested per second beside SQLite's own
//	           fsynced commit rate
//	bundles    200 one-second bundles on 8 workers beside the ideal 25 s, and
//	           each request's start beside what FIFO order predicts
//
// The seeded data directory (-data) is kept between runs: `seed` fills it,
// `coldstart`, `get` and `list` read it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tre-go/tre/internal/funchost"
)

// runner holds what every figure needs.
type runner struct {
	root       string // the module's root
	handler    string // tre-handler binary
	bare       string // the bare server binary
	data       string // the seeded data directory
	tmp        string // scratch directories
	rounds     int
	workspaces int
	sessions   int // status invocations at once (ingest)
	results    []result
}

// result is one line of the summary.
type result struct {
	figure string
	value  string
	floor  string
	ratio  float64
	// target is the acceptance bound of the ratio; atMost says it is an
	// upper bound (lower otherwise). No target: 0.
	target float64
	atMost bool
	note   string
}

func (r result) met() string {
	switch {
	case r.target == 0:
		return ""
	case r.atMost && r.ratio <= r.target, !r.atMost && r.ratio >= r.target:
		return "yes"
	}
	return "NO"
}

func main() {
	root, _ := os.Getwd()
	r := &runner{}
	flag.StringVar(&r.root, "root", root, "the module's root directory")
	flag.StringVar(&r.handler, "handler", filepath.Join(root, "bin", "tre-handler"), "tre-handler binary")
	flag.StringVar(&r.bare, "bare", filepath.Join(root, "bin", "bare"), "bare server binary (cmd/treperf/bare)")
	flag.StringVar(&r.data, "data", filepath.Join(os.TempDir(), "treperf-seeded"), "seeded data directory (kept)")
	flag.IntVar(&r.rounds, "rounds", 3, "repetitions of each paired measurement")
	flag.IntVar(&r.workspaces, "workspaces", 10000, "workspaces to seed")
	flag.IntVar(&r.sessions, "sessions", funchost.DefaultSessions, "status invocations at once (ingest): as many as host.json's maxConcurrentSessions, which the local Functions-host stand-in follows")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: treperf [flags] all|coldstart|seed|get|list|commits|ingest|bundles...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if r.rounds < 1 || r.workspaces < 1 || r.sessions < 1 {
		fmt.Fprintln(os.Stderr, "treperf: -rounds, -workspaces and -sessions must be at least 1")
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "treperf-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "treperf:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(tmp)
	r.tmp = tmp
	fmt.Printf("treperf on %s: %d CPUs, %s, %s/%s\n", hostname(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("load average at start: %s\n", loadavg())
	figures := map[string]func() error{
		"seed": r.seed, "coldstart": r.coldStart, "get": r.getOne, "list": r.list,
		"commits": r.commits, "ingest": r.ingest, "bundles": r.bundles,
	}
	order := []string{"seed", "coldstart", "get", "list", "commits", "ingest", "bundles"}
	var todo []string
	for _, a := range flag.Args() {
		if a == "all" {
			todo = append(todo, order...)
			continue
		}
		if figures[a] == nil {
			fmt.Fprintf(os.Stderr, "treperf: unknown figure %q\n", a)
			os.Exit(2)
		}
		todo = append(todo, a)
	}
	var failed []string
	for _, name := range todo {
		fmt.Printf("\n== %s (load average %s)\n", name, loadavg())
		if err := figures[name](); err != nil {
			fmt.Printf("%s: FAILED: %v\n", name, err)
			failed = append(failed, name)
		}
	}
	r.summary()
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "treperf: failed: %s\n", strings.Join(failed, ", "))
		os.Exit(1)
	}
}

func (r *runner) add(res result) {
	r.results = append(r.results, res)
	fmt.Printf("-> %s: %s (floor %s): ratio %.2f", res.figure, res.value, res.floor, res.ratio)
	if res.target != 0 {
		op := ">="
		if res.atMost {
			op = "<="
		}
		fmt.Printf(", target %s %.2f: %s", op, res.target, res.met())
	}
	fmt.Println()
}

func (r *runner) summary() {
	if len(r.results) == 0 {
		return
	}
	fmt.Printf("\n| Figure | Measured | Floor (same run) | Ratio | Target | Met |\n|---|---|---|---|---|---|\n")
	for _, res := range r.results {
		target := ""
		if res.target != 0 {
			op := "≥"
			if res.atMost {
				op = "≤"
			}
			target = fmt.Sprintf("%s %.2f", op, res.target)
		}
		value := res.value
		if res.note != "" {
			value += " (" + res.note + ")"
		}
		fmt.Printf("| %s | %s | %s | %.2f | %s | %s |\n", res.figure, value, res.floor, res.ratio, target, res.met())
	}
	fmt.Printf("\nload average at end: %s\n", loadavg())
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// seeded reports whether the seeded data directory holds the workspaces.
func (r *runner) seeded() bool {
	b, err := os.ReadFile(filepath.Join(r.data, "treperf-seeded"))
	return err == nil && strings.TrimSpace(string(b)) == fmt.Sprint(r.workspaces)
}
