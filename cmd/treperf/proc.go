package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a program treperf started: the handler or the bare server.
type proc struct {
	name    string
	cmd     *exec.Cmd
	url     string
	started time.Time
	stderr  bytes.Buffer
	done    chan struct{}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// handlerEnv is the environment of a handler on dataDir: local mode as
// `make run` has it, with the bench templates (a no-op and a one-second
// workspace bundle), an address space for 10,000s of workspaces and the
// processor's workers of the benchmarks; extra overrides.
func (r *runner) handlerEnv(dataDir string, port int, extra map[string]string) []string {
	env := map[string]string{
		"TRE_DATA_DIR":                 dataDir,
		"FUNCTIONS_CUSTOMHANDLER_PORT": strconv.Itoa(port),
		"LOG_LEVEL":                    "info",
		"TRE_TEMPLATES_DIR":            filepath.Join(r.root, "handlers", "testdata", "bench-templates"),
		"TRE_ADDRESS_SPACE":            "10.0.0.0/8",
		"TRE_PROCESSOR_WORKERS":        "8",
	}
	for k, v := range extra {
		env[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startHandler starts tre-handler on dataDir; it is not ready yet.
func (r *runner) startHandler(dataDir string, extra map[string]string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.handler)
	cmd.Env = r.handlerEnv(dataDir, port, extra)
	cmd.Dir = r.root
	p := &proc{name: "tre-handler", cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	return p, p.start()
}

// startBare starts the bare server answering body (the health document
// when empty); it is not ready yet.
func (r *runner) startBare(bodyFile string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-addr", fmt.Sprintf("127.0.0.1:%d", port)}
	if bodyFile != "" {
		args = append(args, "-body", bodyFile)
	}
	p := &proc{name: "bare", cmd: exec.Command(r.bare, args...), url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	return p, p.start()
}

func (p *proc) start() error {
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		p.cmd.Stdout = null // the logs, at the default level, cost what they cost
		defer null.Close()
	}
	p.cmd.Stderr = &limitedWriter{w: &p.stderr, n: 64 << 10}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

// ready polls path until it answers 200 and returns the time from the
// start of the process.
func (p *proc) ready(path string, timeout time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return 0, fmt.Errorf("%s exited: %s", p.name, strings.TrimSpace(p.stderr.String()))
		default:
		}
		resp, err := client.Get(p.url + path)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not ready on %s within %s", p.name, path, timeout)
}

// stop ends the process: SIGTERM, then SIGKILL after 30 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// cpu is CPU time used (user and system): the handler's and this
// process's own.
type cpu struct{ handler, self time.Duration }

func (c cpu) sub(d cpu) cpu { return cpu{c.handler - d.handler, c.self - d.self} }

// cpuTimes reads the CPU time of the handler (pid, from /proc; clock
// ticks of 10 ms) and of this process (getrusage).
func cpuTimes(pid int) cpu {
	var c cpu
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				c.handler = time.Duration(u+st) * 10 * time.Millisecond
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return c
}

// rssMB is the process's resident set (VmRSS) in MB.
func rssMB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// cpuSeconds is the CPU time the process has used (user and system),
// from /proc/<pid>/stat; 0 if it cannot be read.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after it (utime and stime are fields 14 and 15).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return len(b), nil
	}
	k := min(len(b), l.n)
	l.n -= k
	_, _ = l.w.Write(b[:k])
	return len(b), nil
}

// token mints a TREAdmin dev token for the handler's data directory.
func (r *runner) token(dataDir string) (string, error) {
	cmd := exec.Command(r.handler, "token", "--roles", "TREAdmin", "--user", "treperf")
	cmd.Env = r.handlerEnv(dataDir, 0, nil)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("token: %s", ee.Stderr)
		}
		return "", fmt.Errorf("token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// strace counts the fsync and fdatasync calls of a running process (all
// its threads) until stop is called.
type straceRun struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
}

func startStrace(pid int, out string) (*straceRun, error) {
	cmd := exec.Command("strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", out, "-p", strconv.Itoa(pid))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("strace (apt-get install strace): %w", err)
	}
	s := &straceRun{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	// strace says it attached once per thread; give it a moment to be
	// attached to all before the measured work begins.
	time.Sleep(500 * time.Millisecond)
	select {
	case <-s.done:
		return nil, fmt.Errorf("strace: %s", strings.TrimSpace(stderr.String()))
	default:
	}
	return s, nil
}

// stop detaches strace and returns the number of calls it counted.
func (s *straceRun) stop() (int, error) {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	b, err := os.ReadFile(s.out)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && (f[len(f)-1] == "fsync" || f[len(f)-1] == "fdatasync") {
			// % time, seconds, usecs/call, calls, [errors,] syscall
			n, err := strconv.Atoi(f[3])
			if err == nil {
				total += n
			}
		}
	}
	return total, nil
}
