package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// The benchmarks run the whole local loop (API, store, queue, processor
// with the local runner, status ingestion through the host stand-in) with
// a bundle that does nothing, so they measure the control plane itself.
//
//	go test -run '^$' -bench . -benchtime 200x ./handlers
//
// Latencies are taken from the operation's own timestamps (created, last
// updated), so the client's polling does not count.

func benchHandler(b *testing.B) (*handler, string) {
	b.Helper()
	dir := b.TempDir()
	cfg, err := loadConfig(envOf(dir, map[string]string{"TRE_TEMPLATES_DIR": "testdata/bench-templates",
		"TRE_REGISTER_TEMPLATES": "true", "LOG_LEVEL": "warn", "TRE_PROCESSOR_WORKERS": "8", "TRE_ADDRESS_SPACE": "10.0.0.0/8"}))
	if err != nil {
		b.Fatal(err)
	}
	h := startConfig(b, dir, cfg)
	return h, h.token("TREAdmin", "bench")
}

// create posts a no-op workspace and returns its operation's location.
func create(h *handler, token string) (string, error) {
	r := h.do("POST", "/api/workspaces", token, map[string]any{"templateName": "tre-workspace-noop",
		"properties": map[string]any{"display_name": "b", "description": "b"}})
	if r.status != http.StatusAccepted {
		return "", fmt.Errorf("create: %d %s", r.status, r.body)
	}
	return r.header.Get("Location"), nil
}

// finish waits for an operation to end and returns its server-side
// duration (created to last update).
func finish(h *handler, token, loc string) (time.Duration, error) {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		r := h.do("GET", loc, token, nil)
		var body struct {
			Operation struct {
				Status      string  `json:"status"`
				CreatedWhen float64 `json:"createdWhen"`
				UpdatedWhen float64 `json:"updatedWhen"`
			} `json:"operation"`
		}
		if err := jsonDecode(r.body, &body); err != nil {
			return 0, err
		}
		switch body.Operation.Status {
		case "deployed":
			return time.Duration((body.Operation.UpdatedWhen - body.Operation.CreatedWhen) * float64(time.Second)), nil
		case "deployment_failed":
			return 0, fmt.Errorf("operation failed: %s", r.body)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("operation %s did not end", loc)
}

func report(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "median-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(d[len(d)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkPostToDeployed: one workspace at a time, POST to deployed.
func BenchmarkPostToDeployed(b *testing.B) {
	h, token := benchHandler(b)
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		loc, err := create(h, token)
		if err != nil {
			b.Fatal(err)
		}
		d, err := finish(h, token, loc)
		if err != nil {
			b.Fatal(err)
		}
		durations = append(durations, d)
	}
	b.StopTimer()
	report(b, durations)
}

// BenchmarkWorkspacesPerSecond: b.N workspaces created by 16 concurrent
// clients; reports completed workspaces per second of wall time.
func BenchmarkWorkspacesPerSecond(b *testing.B) {
	h, token := benchHandler(b)
	const clients = 16
	var mu sync.Mutex
	var durations []time.Duration
	var firstErr error
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				loc, err := create(h, token)
				var d time.Duration
				if err == nil {
					d, err = finish(h, token, loc)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				durations = append(durations, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "workspaces/s")
	report(b, durations)
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }
