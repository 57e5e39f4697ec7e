package nodetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for the first line of a program.
const startTimeout = 30 * time.Second

// stopGrace is how long Stop waits for a program to exit after SIGTERM
// before it kills it. A variable for the tests of this package.
var stopGrace = 5 * time.Second

// Process is a running Node.js program, started by StartProcess.
type Process struct {
	// Addr is the HOST:PORT the program printed as its first line.
	Addr string

	name   string // the script's file name, for messages
	cmd    *exec.Cmd
	stdin  io.Closer
	stderr *capped
	done   chan struct{} // closed once the process has exited
	err    error         // how it exited; set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts the Node.js program script (see StartProcess) for the test
// and returns the HOST:PORT it listens on. A relative script is resolved
// against the directory of the calling source file. The program is stopped
// when the test and its subtests end (see Process.Stop); what it wrote on
// stderr is then logged, which shows with -v or if the test failed. Without
// Node.js the test is skipped (see Require); a program that does not start
// fails it.
func Start(t testing.TB, script string, env []string, args ...string) (addr string) {
	t.Helper()
	path, err := sourcePath(script, 2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess(path, env, args...)
	if err != nil {
		SkipOrFail(t, err)
		return ""
	}
	t.Cleanup(func() {
		err := p.Stop()
		if out := p.Stderr(); out != "" {
			t.Logf("%s stderr:\n%s", p.name, out)
		}
		if err != nil {
			t.Error(err)
		}
	})
	return p.Addr
}

// StartProcess runs node with script (an absolute path) and args, in the
// script's directory, with env added to the test binary's environment, and
// waits up to 30 s for the program's first line on stdout, which must be
// "listening HOST:PORT". The rest of its stdout is discarded; its stderr is
// kept for Stderr and error messages.
//
// The caller stops the process with Stop. If it does not, the process gets
// end of file on stdin when the test binary exits, and on Linux SIGKILL.
//
// The error wraps ErrUnavailable if Node.js or npm is missing.
func StartProcess(script string, env []string, args ...string) (*Process, error) {
	name := filepath.Base(script)
	if !filepath.IsAbs(script) {
		return nil, fmt.Errorf("nodetest: start %s: not an absolute path", script)
	}
	node, _, err := Find()
	if err != nil {
		return nil, fmt.Errorf("nodetest: start %s: %w", name, err)
	}
	cmd := exec.Command(node, append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = sysProcAttr()
	// Should the program leave a child holding stderr, Wait does not hang.
	cmd.WaitDelay = time.Second
	p := &Process{name: name, cmd: cmd, stderr: &capped{max: 1 << 20}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	// The test binary keeps the write end: it closes when the binary exits.
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("nodetest: start %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("nodetest: start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("nodetest: start %s: %w", name, err)
	}

	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil {
			first <- strings.TrimRight(line, "\r\n")
		}
		close(first)
		_, _ = io.Copy(io.Discard, r) // never let the program block on a full pipe
		p.err = cmd.Wait()
		close(p.done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-first:
		if !ok {
			<-p.done
			return nil, fmt.Errorf("nodetest: start %s: exited before it listened (%v): %s", name, p.err, p.stderr)
		}
		addr, found := strings.CutPrefix(line, "listening ")
		if _, _, err := net.SplitHostPort(addr); !found || err != nil {
			_ = p.Stop()
			return nil, fmt.Errorf("nodetest: start %s: first line %q, want \"listening HOST:PORT\": %s", name, line, p.stderr)
		}
		p.Addr = addr
		return p, nil
	case <-timer.C:
		_ = p.Stop()
		return nil, fmt.Errorf("nodetest: start %s: no \"listening HOST:PORT\" line within %v: %s", name, startTimeout, p.stderr)
	}
}

// Stop stops the program: it closes its stdin and sends SIGTERM, waits up
// to 5 s for it to exit, then kills it. It returns an error if the program
// had to be killed, or had exited before Stop was called (it crashed).
// Calling Stop again returns the same answer.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Process) stop() error {
	select {
	case <-p.done:
		return fmt.Errorf("nodetest: %s exited before it was stopped (%v): %s", p.name, p.err, p.stderr)
	default:
	}
	_ = p.stdin.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		// No SIGTERM here (Windows): kill at once.
		return p.kill(nil)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		return p.kill(fmt.Errorf("nodetest: %s did not exit within %v of SIGTERM: killed", p.name, stopGrace))
	}
}

// kill kills the process, waits for it to exit and returns reason, or the
// error of the kill.
func (p *Process) kill(reason error) error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("nodetest: kill %s: %w", p.name, err)
	}
	<-p.done
	return reason
}

// Stderr returns what the program wrote on stderr so far (its first MiB).
func (p *Process) Stderr() string {
	return p.stderr.String()
}

// capped is a concurrency-safe buffer that keeps the first max bytes
// written to it: where the startup errors are.
type capped struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *capped) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		b.truncated = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *capped) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "\n[truncated]"
	}
	return b.buf.String()
}
