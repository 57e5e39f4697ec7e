package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
)

const (
	noopTemplate  = "tre-workspace-noop"
	sleepTemplate = "tre-workspace-sleep"
	clients       = 16
	batch         = 500
)

// created is what a create answers.
type created struct {
	loc, op, step, resource string
}

func createWorkspace(c *client, template string) (created, error) {
	status, b, err := c.do("POST", "/api/workspaces", map[string]any{"templateName": template,
		"properties": map[string]any{"display_name": "treperf", "description": "treperf"}})
	if err != nil {
		return created{}, err
	}
	if status != http.StatusAccepted {
		return created{}, fmt.Errorf("create: %d %s", status, shorten(b))
	}
	var body struct {
		Operation opView `json:"operation"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return created{}, err
	}
	op := body.Operation
	if len(op.Steps) == 0 {
		return created{}, fmt.Errorf("create: an operation without steps")
	}
	return created{loc: "/api/workspaces/" + op.ResourceID + "/operations/" + op.ID, op: op.ID, step: op.Steps[0].ID, resource: op.ResourceID}, nil
}

// opView is the part of an operation the figures read.
type opView struct {
	ID          string  `json:"id"`
	ResourceID  string  `json:"resourceId"`
	Status      string  `json:"status"`
	CreatedWhen float64 `json:"createdWhen"`
	UpdatedWhen float64 `json:"updatedWhen"`
	Steps       []struct {
		ID             string  `json:"id"`
		Status         string  `json:"status"`
		DispatchedWhen float64 `json:"dispatchedWhen"`
		StartedWhen    float64 `json:"startedWhen"`
		UpdatedWhen    float64 `json:"updatedWhen"`
	} `json:"steps"`
}

// waitDeployed polls an operation until it ends; it must be deployed.
func waitDeployed(c *client, loc string, timeout time.Duration) (opView, error) {
	deadline := time.Now().Add(timeout)
	pause := 2 * time.Millisecond
	for time.Now().Before(deadline) {
		b, err := c.get(loc)
		if err != nil {
			return opView{}, err
		}
		var body struct {
			Operation opView `json:"operation"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return opView{}, err
		}
		switch body.Operation.Status {
		case "deployed":
			return body.Operation, nil
		case "deployment_failed":
			return opView{}, fmt.Errorf("operation failed: %s", shorten(b))
		}
		time.Sleep(pause)
		pause = min(2*pause, 200*time.Millisecond)
	}
	return opView{}, fmt.Errorf("operation %s did not end within %s", loc, timeout)
}

// waitIdle waits until the caller has no operation in progress.
func waitIdle(c *client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := c.get("/api/operations")
		if err != nil {
			return err
		}
		var body struct {
			Operations []json.RawMessage `json:"operations"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return err
		}
		if len(body.Operations) == 0 {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("operations still in progress after %s", timeout)
}

// session is a started handler with a client.
type session struct {
	p *proc
	c *client
}

func (r *runner) open(dataDir string, extra map[string]string, readyPath string) (*session, error) {
	p, err := r.startHandler(dataDir, extra)
	if err != nil {
		return nil, err
	}
	if _, err := p.ready(readyPath, 2*time.Minute); err != nil {
		p.stop()
		return nil, err
	}
	tok, err := r.token(dataDir)
	if err != nil {
		p.stop()
		return nil, err
	}
	return &session{p: p, c: newClient(p.url, tok)}, nil
}

// seed creates the workspaces of the seeded directory with 16 clients,
// timing each batch of 500 POSTs while the processor deploys them.
func (r *runner) seed() error {
	if err := os.RemoveAll(r.data); err != nil {
		return err
	}
	s, err := r.open(r.data, nil, "/api/health")
	if err != nil {
		return err
	}
	defer s.p.stop()
	var rates []float64
	start := time.Now()
	for b := 0; b*batch < r.workspaces; b++ {
		n := min(batch, r.workspaces-b*batch)
		t0 := time.Now()
		err := each(clients, make([]int, n), func(int) error {
			_, err := createWorkspace(s.c, noopTemplate)
			return err
		})
		if err != nil {
			return err
		}
		rate := float64(n) / time.Since(t0).Seconds()
		rates = append(rates, rate)
		fmt.Printf("batch %d (%d..%d): %.1f creates/s, handler RSS %.0f MB\n", b+1, b*batch, b*batch+n, rate, rssMB(s.p.pid()))
	}
	posted := time.Since(start)
	if err := waitIdle(s.c, 15*time.Minute); err != nil {
		return err
	}
	all := time.Since(start)
	fmt.Printf("seeded %d workspaces: POSTs in %s, all deployed after %s\n", r.workspaces, posted.Round(time.Second), all.Round(time.Second))
	if err := os.WriteFile(filepath.Join(r.data, "treperf-seeded"), []byte(fmt.Sprint(r.workspaces)), 0o600); err != nil {
		return err
	}
	if len(rates) >= 4 {
		r.add(result{figure: "Creates/s, 4th batch of 500 vs 1st (16 clients)", value: fmt.Sprintf("%.1f/s", rates[3]),
			floor: fmt.Sprintf("1st batch %.1f/s", rates[0]), ratio: rates[3] / rates[0], target: 0.8})
	}
	if len(rates) >= 2 {
		last := rates[len(rates)-1]
		r.add(result{figure: fmt.Sprintf("Creates/s, last batch vs 1st (%d workspaces)", r.workspaces), value: fmt.Sprintf("%.1f/s", last),
			floor: fmt.Sprintf("1st batch %.1f/s", rates[0]), ratio: last / rates[0]})
	}
	r.add(result{figure: fmt.Sprintf("Seeding %d workspaces (POSTs)", r.workspaces), value: posted.Round(time.Second).String(),
		floor: "4 min", ratio: posted.Seconds() / 240, target: 1, atMost: true, note: "all deployed after " + all.Round(time.Second).String()})
	return nil
}

func (r *runner) needSeeded() error {
	if r.seeded() {
		return nil
	}
	fmt.Printf("the seeded data directory %s lacks %d workspaces: seeding first\n", r.data, r.workspaces)
	return r.seed()
}

// coldStart times exec to the first 200 of /api/health, bare server and
// handler alternately.
func (r *runner) coldStart() error {
	if err := r.needSeeded(); err != nil {
		return err
	}
	// An empty data directory the handler has started on once: its key,
	// schema and built-in resources made (what a first start does once).
	empty, err := os.MkdirTemp(r.tmp, "empty-")
	if err != nil {
		return err
	}
	if err := r.startOnce(empty); err != nil {
		return err
	}
	var bare, fresh, initialised, seeded []float64
	for round := range r.rounds {
		p, err := r.startBare("")
		if err != nil {
			return err
		}
		d, err := p.ready("/api/health", 10*time.Second)
		p.stop()
		if err != nil {
			return err
		}
		bare = append(bare, ms(d))

		dir, err := os.MkdirTemp(r.tmp, "fresh-")
		if err != nil {
			return err
		}
		if p, err = r.startHandler(dir, nil); err != nil {
			return err
		}
		d, err = p.ready("/api/health", time.Minute)
		p.stop()
		if err != nil {
			return err
		}
		fresh = append(fresh, ms(d))

		if p, err = r.startHandler(empty, nil); err != nil {
			return err
		}
		d, err = p.ready("/api/health", time.Minute)
		p.stop()
		if err != nil {
			return err
		}
		initialised = append(initialised, ms(d))

		if p, err = r.startHandler(r.data, nil); err != nil {
			return err
		}
		d, err = p.ready("/api/health", time.Minute)
		p.stop()
		if err != nil {
			return err
		}
		seeded = append(seeded, ms(d))
		fmt.Printf("round %d: bare %.1f ms, first start %.1f ms, empty store %.1f ms, %d workspaces %.1f ms\n",
			round+1, bare[round], fresh[round], initialised[round], r.workspaces, seeded[round])
	}
	b, f, e, sd := median(bare), median(fresh), median(initialised), median(seeded)
	r.add(result{figure: "Cold start to first 200 of /api/health, empty store", value: fmt.Sprintf("%.0f ms", e),
		floor: fmt.Sprintf("bare server %.0f ms", b), ratio: e / b, target: 3, atMost: true})
	r.add(result{figure: fmt.Sprintf("Cold start with %d workspaces vs empty store", r.workspaces), value: fmt.Sprintf("%.0f ms", sd),
		floor: fmt.Sprintf("empty store %.0f ms", e), ratio: sd / e, target: 1.2, atMost: true, note: fmt.Sprintf("%.1f× the bare server", sd/b)})
	r.add(result{figure: "First start ever (new data dir: key, schema, built-in firewall)", value: fmt.Sprintf("%.0f ms", f),
		floor: fmt.Sprintf("bare server %.0f ms", b), ratio: f / b})
	return nil
}

// startOnce starts the handler on dir until it is ready and its shared
// services (the built-in firewall) are deployed, then stops it.
func (r *runner) startOnce(dir string) error {
	s, err := r.open(dir, nil, "/api/health")
	if err != nil {
		return err
	}
	defer s.p.stop()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, err := s.c.get("/api/shared-services")
		if err != nil {
			return err
		}
		var body struct {
			SharedServices []struct {
				DeploymentStatus string `json:"deploymentStatus"`
			} `json:"sharedServices"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return err
		}
		settled := true
		for _, ss := range body.SharedServices {
			settled = settled && ss.DeploymentStatus == "deployed"
		}
		if settled {
			return nil
		}
	}
	return fmt.Errorf("the shared services of %s were not deployed within a minute", dir)
}

// firstWorkspace returns the path of one workspace of the store.
func firstWorkspace(c *client) (string, error) {
	b, err := c.get("/api/workspaces?pageSize=1")
	if err != nil {
		return "", err
	}
	var body struct {
		Workspaces []struct {
			ID string `json:"id"`
		} `json:"workspaces"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return "", err
	}
	if len(body.Workspaces) == 0 {
		return "", fmt.Errorf("no workspace in the store")
	}
	return "/api/workspaces/" + body.Workspaces[0].ID, nil
}

// floorOf starts the bare server answering body.
func (r *runner) floorOf(body []byte) (*proc, *client, error) {
	f, err := os.CreateTemp(r.tmp, "body-")
	if err != nil {
		return nil, nil, err
	}
	if _, err := f.Write(body); err != nil {
		return nil, nil, err
	}
	f.Close()
	p, err := r.startBare(f.Name())
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.ready("/", 10*time.Second); err != nil {
		p.stop()
		return nil, nil, err
	}
	return p, newClient(p.url, ""), nil
}

// getOne: GET one workspace beside the same bytes from the bare server.
func (r *runner) getOne() error {
	if err := r.needSeeded(); err != nil {
		return err
	}
	s, err := r.open(r.data, nil, "/api/health")
	if err != nil {
		return err
	}
	defer s.p.stop()
	path, err := firstWorkspace(s.c)
	if err != nil {
		return err
	}
	doc, err := s.c.get(path)
	if err != nil {
		return err
	}
	bp, bc, err := r.floorOf(doc)
	if err != nil {
		return err
	}
	defer bp.stop()
	const workers, d = 4, 5 * time.Second
	var ratios, subject, floor, cpuRatios []float64
	for round := range r.rounds {
		h, hcpu, err := hammerCPU(s.p.pid(), workers, d, func() error { _, err := s.c.drain(path); return err })
		if err != nil {
			return err
		}
		f, fcpu, err := hammerCPU(bp.pid(), workers, d, func() error { _, err := bc.drain(path); return err })
		if err != nil {
			return err
		}
		subject, floor, ratios, cpuRatios = append(subject, h), append(floor, f), append(ratios, h/f), append(cpuRatios, fcpu/hcpu)
		fmt.Printf("round %d: handler %.0f req/s (%.0f µs CPU each), bare %.0f req/s (%.0f µs CPU each) (%d bytes): %.2f\n",
			round+1, h, hcpu*1e6, f, fcpu*1e6, len(doc), h/f)
	}
	r.add(result{figure: fmt.Sprintf("GET one workspace, %d in store (%d clients)", r.workspaces, workers),
		value: fmt.Sprintf("%.0f req/s", median(subject)), floor: fmt.Sprintf("same document from memory %.0f req/s", median(floor)),
		ratio: median(ratios), target: 0.4,
		note: fmt.Sprintf("server CPU per request: bare ÷ handler %.2f", median(cpuRatios))})
	return nil
}

// hammerCPU is hammer, with the CPU time process pid spent per call.
func hammerCPU(pid, workers int, d time.Duration, fn func() error) (rate, cpuPerCall float64, err error) {
	before := cpuSeconds(pid)
	rate, err = hammer(workers, d, fn)
	used := cpuSeconds(pid) - before
	return rate, used / (rate * d.Seconds()), err
}

// list: the whole list beside the same bytes from the bare server, pages
// of 100, and the handler's RSS after.
func (r *runner) list() error {
	if err := r.needSeeded(); err != nil {
		return err
	}
	s, err := r.open(r.data, nil, "/api/health")
	if err != nil {
		return err
	}
	defer s.p.stop()
	idle := rssMB(s.p.pid())
	all, err := s.c.get("/api/workspaces")
	if err != nil {
		return err
	}
	var parsed struct {
		Workspaces []json.RawMessage `json:"workspaces"`
	}
	if err := json.Unmarshal(all, &parsed); err != nil {
		return err
	}
	fmt.Printf("the list: %d workspaces, %d bytes; handler RSS idle %.1f MB\n", len(parsed.Workspaces), len(all), idle)
	bp, bc, err := r.floorOf(all)
	if err != nil {
		return err
	}
	var subject, floor stats
	for range max(r.rounds, 5) {
		t0 := time.Now()
		if _, err := s.c.drain("/api/workspaces"); err != nil {
			return err
		}
		subject = append(subject, time.Since(t0))
		t0 = time.Now()
		if _, err := bc.drain("/api/workspaces"); err != nil {
			return err
		}
		floor = append(floor, time.Since(t0))
	}
	rss := rssMB(s.p.pid())
	bp.stop()
	r.add(result{figure: fmt.Sprintf("GET all %d workspaces (p50)", len(parsed.Workspaces)), value: fmt.Sprintf("%.0f ms, %.1f MB", ms(subject.pct(0.5)), float64(len(all))/1e6),
		floor: fmt.Sprintf("same bytes from memory %.1f ms", ms(floor.pct(0.5))), ratio: float64(subject.pct(0.5)) / float64(floor.pct(0.5)), target: 10, atMost: true})
	r.add(result{figure: fmt.Sprintf("Handler RSS after listing %d workspaces", len(parsed.Workspaces)), value: fmt.Sprintf("%.1f MB", rss),
		floor: "target 40 MB", ratio: rss / 40, target: 1, atMost: true, note: fmt.Sprintf("%.1f MB idle before", idle)})
	return r.pages(s)
}

// pages walks the list by pages of 100 to the end, twice; the floor is a
// page's bytes from memory.
func (r *runner) pages(s *session) error {
	var pages stats
	var pageBytes []byte
	for range 2 {
		token := ""
		for {
			path := "/api/workspaces?pageSize=100"
			if token != "" {
				path += "&continuation=" + url.QueryEscape(token)
			}
			t0 := time.Now()
			b, err := s.c.get(path)
			if err != nil {
				return err
			}
			pages = append(pages, time.Since(t0))
			var page struct {
				Continuation string `json:"continuation"`
			}
			if err := json.Unmarshal(b, &page); err != nil {
				return err
			}
			if pageBytes == nil {
				pageBytes = b
			}
			if page.Continuation == "" {
				break
			}
			token = page.Continuation
		}
	}
	bp, bc, err := r.floorOf(pageBytes)
	if err != nil {
		return err
	}
	defer bp.stop()
	var pageFloor stats
	for range len(pages) {
		t0 := time.Now()
		if _, err := bc.drain("/"); err != nil {
			return err
		}
		pageFloor = append(pageFloor, time.Since(t0))
	}
	r.add(result{figure: fmt.Sprintf("GET a page of 100 (p99 of %d)", len(pages)), value: fmt.Sprintf("p99 %.1f ms, p50 %.1f ms", ms(pages.pct(0.99)), ms(pages.pct(0.5))),
		floor: fmt.Sprintf("target 20 ms; same bytes from memory p99 %.1f ms", ms(pageFloor.pct(0.99))), ratio: ms(pages.pct(0.99)) / 20, target: 1, atMost: true})
	return nil
}

// commits counts fsynced commits per workspace, POST to deployed, with
// strace attached to the handler after a warm-up; then the same load
// without strace gives the throughput, beside SQLite's commit floor.
func (r *runner) commits() error {
	dir, err := os.MkdirTemp(r.tmp, "commits-")
	if err != nil {
		return err
	}
	s, err := r.open(dir, nil, "/api/health")
	if err != nil {
		return err
	}
	defer s.p.stop()
	deploy := func(n int) (stats, time.Duration, error) {
		var mu sync.Mutex
		var lat stats
		t0 := time.Now()
		err := each(clients, make([]int, n), func(int) error {
			cr, err := createWorkspace(s.c, noopTemplate)
			if err != nil {
				return err
			}
			op, err := waitDeployed(s.c, cr.loc, 2*time.Minute)
			if err != nil {
				return err
			}
			mu.Lock()
			lat = append(lat, time.Duration((op.UpdatedWhen-op.CreatedWhen)*float64(time.Second)))
			mu.Unlock()
			return nil
		})
		return lat, time.Since(t0), err
	}
	if _, _, err := deploy(20); err != nil { // warm-up
		return err
	}
	const n = 200
	st, err := startStrace(s.p.pid(), filepath.Join(dir, "strace.txt"))
	if err != nil {
		return err
	}
	_, _, err = deploy(n)
	calls, serr := st.stop()
	if err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	per := float64(calls) / n
	r.add(result{figure: "fsynced commits per workspace, POST to deployed", value: fmt.Sprintf("%.1f (%d fsync+fdatasync for %d)", per, calls, n),
		floor: "target 8", ratio: per / 8, target: 1, atMost: true, note: "background timers included"})

	var rates, floors []float64
	var lat stats
	for round := range r.rounds {
		l, elapsed, err := deploy(n)
		if err != nil {
			return err
		}
		lat = append(lat, l...)
		floor, err := commitFloor(r.tmp)
		if err != nil {
			return err
		}
		rates, floors = append(rates, n/elapsed.Seconds()), append(floors, floor)
		fmt.Printf("round %d: %.1f workspaces/s (16 clients), p50 %.0f ms, p99 %.0f ms; commit floor %.0f/s\n",
			round+1, rates[round], ms(l.pct(0.5)), ms(l.pct(0.99)), floor)
	}
	cf := median(floors)
	bound := cf / per
	r.add(result{figure: "POST → deployed, 16 clients", value: fmt.Sprintf("%.1f workspaces/s, p99 %.0f ms", median(rates), ms(lat.pct(0.99))),
		floor: fmt.Sprintf("commit floor %.0f/s ÷ %.1f = %.0f/s", cf, per, bound), ratio: median(rates) / bound})
	return nil
}

// ingest posts status messages to /deployment-status as the Functions
// host does, each one moving a step (written), beside SQLite's own fsynced
// commit rate measured between the rounds.
func (r *runner) ingest() error {
	dir, err := os.MkdirTemp(r.tmp, "ingest-")
	if err != nil {
		return err
	}
	// No processor and no host: the operations wait, and this figure is
	// the only one reporting on them.
	s, err := r.open(dir, map[string]string{"TRE_LOCAL_PROCESSOR": "false", "TRE_LOCAL_HOST": "false"}, "/api/.metadata")
	if err != nil {
		return err
	}
	defer s.p.stop()
	const n = 1000
	var mu sync.Mutex
	var ops []created
	err = each(clients, make([]int, n), func(int) error {
		cr, err := createWorkspace(s.c, noopTemplate)
		mu.Lock()
		ops = append(ops, cr)
		mu.Unlock()
		return err
	})
	if err != nil {
		return err
	}
	hc := newClient(s.p.url, "")
	post := func(inv json.RawMessage) error {
		code, b, err := hc.do("POST", "/deployment-status", inv)
		if err != nil {
			return err
		}
		if code != http.StatusOK || strings.Contains(string(b), "ignored") {
			return fmt.Errorf("deployment-status: %d %s", code, shorten(b))
		}
		return nil
	}
	var ratios, rates, floors []float64
	statuses := []tre.Status{tre.StatusDeploying, tre.StatusDeployed}
	for round := range min(r.rounds, len(statuses)) {
		floor, err := commitFloor(r.tmp)
		if err != nil {
			return err
		}
		// Encoded before the clock starts: the figure is the handler's
		// write path, and the client shares its two cores.
		invs := make([]json.RawMessage, len(ops))
		for i, cr := range ops {
			if invs[i], err = statusInvocation(cr, statuses[round]); err != nil {
				return err
			}
		}
		t0, cpu0 := time.Now(), cpuTimes(s.p.pid())
		if err := each(r.sessions, invs, post); err != nil {
			return err
		}
		rate, cpu := n/time.Since(t0).Seconds(), cpuTimes(s.p.pid()).sub(cpu0)
		floor2, err := commitFloor(r.tmp)
		if err != nil {
			return err
		}
		f := (floor + floor2) / 2
		rates, floors, ratios = append(rates, rate), append(floors, f), append(ratios, rate/f)
		fmt.Printf("round %d (%s, %d clients): %.0f messages/s; commit floor %.0f/s before, %.0f/s after: %.2f; "+
			"CPU per message: handler %v, this client %v\n",
			round+1, statuses[round], r.sessions, rate, floor, floor2, rate/f, (cpu.handler / n).Round(time.Microsecond), (cpu.self / n).Round(time.Microsecond))
	}
	r.add(result{figure: fmt.Sprintf("Status ingestion, write path (each message moves a step; %d at once)", r.sessions), value: fmt.Sprintf("%.0f msg/s", median(rates)),
		floor: fmt.Sprintf("SQLite fsynced commits %.0f/s", median(floors)), ratio: median(ratios), target: 0.6})
	return nil
}

// statusInvocation is the Functions host's invocation of deployment-status
// with the report that moves cr's step to status.
func statusInvocation(cr created, status tre.Status) (json.RawMessage, error) {
	upd := tre.StatusUpdate{OperationID: cr.op, StepID: cr.step, ID: cr.resource, Status: status, Message: "treperf",
		Agent: "treperf", SentAt: tre.Timestamp(time.Now()), Attempt: 1}
	body, err := json.Marshal(upd)
	if err != nil {
		return nil, err
	}
	inv := funchost.Invocation{Data: map[string]json.RawMessage{"msg": funchost.StringData(body)},
		Metadata: funchost.ServiceBusMetadata(uuid.NewString(), cr.op, cr.resource, 1, 1, time.Now().UTC().Format(time.RFC3339Nano), nil)}
	return json.Marshal(inv)
}

// bundles runs 200 one-second bundles on 8 workers, and checks every
// request's start against what FIFO order on 8 workers predicts from the
// dispatch times and the measured run times.
func (r *runner) bundles() error {
	dir, err := os.MkdirTemp(r.tmp, "bundles-")
	if err != nil {
		return err
	}
	s, err := r.open(dir, map[string]string{"TRE_PROCESSOR_WORKERS": "8"}, "/api/health")
	if err != nil {
		return err
	}
	defer s.p.stop()
	const n, workers = 200, 8
	var mu sync.Mutex
	var locs []string
	err = each(clients, make([]int, n), func(int) error {
		cr, err := createWorkspace(s.c, sleepTemplate)
		mu.Lock()
		locs = append(locs, cr.loc)
		mu.Unlock()
		return err
	})
	if err != nil {
		return err
	}
	var ops []opView
	err = each(clients, locs, func(loc string) error {
		op, err := waitDeployed(s.c, loc, 5*time.Minute)
		mu.Lock()
		ops = append(ops, op)
		mu.Unlock()
		return err
	})
	if err != nil {
		return err
	}
	first, last := ops[0].CreatedWhen, ops[0].UpdatedWhen
	var service []float64
	for _, op := range ops {
		first, last = min(first, op.CreatedWhen), max(last, op.UpdatedWhen)
		st := op.Steps[0]
		service = append(service, st.UpdatedWhen-st.StartedWhen)
	}
	total := last - first
	ideal := float64(n) / workers
	overhead := median(service) - 1
	late, worst, cycle := fifoExcess(ops, workers, total)
	inversion := fifoInversion(ops)
	fmt.Printf("%d bundles: first created to last deployed %.2f s; bundle run (start report to end) median %.3f s; "+
		"a worker's cycle per job %.3f s; worst start %.3f s after FIFO's prediction (%d over 0.1 s); worst overtaking %.3f s\n",
		n, total, median(service), cycle, worst, late, inversion)
	r.add(result{figure: "200 one-second bundles on 8 workers", value: fmt.Sprintf("%.1f s", total),
		floor: fmt.Sprintf("ideal %.0f s (%.1f s with the measured %.0f ms per bundle)", ideal, ideal*(1+overhead), overhead*1000),
		ratio: total / ideal, target: 1.2, atMost: true})
	r.add(result{figure: "FIFO: worst start after a request sent later (8 workers)", value: fmt.Sprintf("%.0f ms", inversion*1000),
		floor: "target 100 ms", ratio: inversion / 0.1, target: 1, atMost: true,
		note: fmt.Sprintf("beside FIFO's prediction with the mean cycle: worst %.0f ms late, %d requests over 100 ms", worst*1000, late)})
	return nil
}

// fifoExcess predicts each request's start by FIFO order on the workers:
// in dispatch order, a request starts when it was sent or when the first
// worker is free, a worker being busy for the request's own run time plus
// the mean time a worker spends per job around the bundle (from the
// total). It returns how many started more than 0.1 s after their
// prediction, the worst excess, and that cycle time.
func fifoExcess(ops []opView, workers int, total float64) (int, float64, float64) {
	sort.Slice(ops, func(i, j int) bool { return ops[i].Steps[0].DispatchedWhen < ops[j].Steps[0].DispatchedWhen })
	run := 0.0
	for _, op := range ops {
		run += op.Steps[0].UpdatedWhen - op.Steps[0].StartedWhen
	}
	gap := max(0, (total*float64(workers)-run)/float64(len(ops)))
	free := make([]float64, workers)
	late, worst := 0, 0.0
	for _, op := range ops {
		st := op.Steps[0]
		k := 0
		for i := range free {
			if free[i] < free[k] {
				k = i
			}
		}
		predicted := max(st.DispatchedWhen, free[k])
		free[k] = predicted + (st.UpdatedWhen - st.StartedWhen) + gap
		excess := st.StartedWhen - predicted
		worst = max(worst, excess)
		if excess > 0.1 {
			late++
		}
	}
	return late, worst, run/float64(len(ops)) + gap
}

// fifoInversion is the worst overtaking: how long a request started after
// one dispatched later than it.
func fifoInversion(ops []opView) float64 {
	sort.Slice(ops, func(i, j int) bool { return ops[i].Steps[0].DispatchedWhen < ops[j].Steps[0].DispatchedWhen })
	worst, minLater := 0.0, math.Inf(1)
	for i := len(ops) - 1; i >= 0; i-- {
		st := ops[i].Steps[0].StartedWhen
		worst = max(worst, st-minLater)
		minLater = min(minLater, st)
	}
	return worst
}
