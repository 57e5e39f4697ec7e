package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// client talks to a server with keep-alive connections for many workers.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(base, token string) *client {
	return &client{base: base, token: token, http: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
	}}}
}

// do sends a request and returns the status and body.
func (c *client) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if raw, ok := body.(json.RawMessage); ok {
		rd = bytes.NewReader(raw) // encoded before the clock started
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// get reads path and requires 200.
func (c *client) get(path string) ([]byte, error) {
	status, b, err := c.do("GET", path, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, status, shorten(b))
	}
	return b, nil
}

// drain reads path and discards the body, counting its bytes.
func (c *client) drain(path string) (int64, error) {
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return n, err
}

func shorten(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// hammer runs fn from workers goroutines for d and returns how many calls
// succeeded per second; the first error stops it.
func hammer(workers int, d time.Duration, fn func() error) (float64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := fn(); err != nil {
					once.Do(func() { firstErr = err; close(stop) })
					return
				}
				n.Add(1)
			}
		}()
	}
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
		once.Do(func() { close(stop) })
	case <-stop:
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), firstErr
}

// each runs fn over items with workers goroutines; the first error is
// returned after all have stopped.
func each[T any](workers int, items []T, fn func(T) error) error {
	ch := make(chan T)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := fn(it); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		ch <- it
	}
	close(ch)
	wg.Wait()
	return firstErr
}

// stats of a sample of durations.
type stats []time.Duration

func (s stats) sorted() stats {
	out := append(stats(nil), s...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// pct is the p-th quantile (0..1), nearest rank.
func (s stats) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	o := s.sorted()
	i := int(p*float64(len(o)) + 0.5)
	return o[min(max(i-1, 0), len(o)-1)]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	o := append([]float64(nil), xs...)
	sort.Float64s(o)
	if len(o)%2 == 1 {
		return o[len(o)/2]
	}
	return (o[len(o)/2-1] + o[len(o)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
