package porter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// defaultPipeDrain bounds how long a finished command's output is still
// read: a grandchild that outlives porter and keeps its output open must
// not hold the job.
const defaultPipeDrain = 5 * time.Second

// command is one program run.
type command struct {
	// what names it in messages: "porter install", "az acr login".
	what string
	path string
	args []string
	// shown is its command line for logs and errors, without secrets.
	shown string
	// secrets are values to scrub from its output before quoting it.
	secrets []string
	// capture sends standard output to the caller (porter's JSON) and
	// keeps only standard error for errors.
	capture bool
	// stream receives the combined output as it comes; may be nil.
	stream io.Writer
}

// ExitError is a command that ran and did not exit successfully. Its
// message is safe to show to users: parameter values are masked in the
// command line and scrubbed from the output.
type ExitError struct {
	// Command names what ran: "porter install", "porter explain", "az login".
	Command string
	// CommandLine is the command line with every --param value shown as
	// *** (for prelude commands, only the program and its subcommand).
	CommandLine string
	// ExitCode is the exit status, -1 if a signal ended the process.
	ExitCode int
	// Output is the tail of the command's output (for explain and output
	// list, whose standard output is JSON: their standard error, or their
	// standard output if that was empty), colour codes stripped,
	// whitespace collapsed, parameter values scrubbed, at most
	// Config.OutputTail bytes.
	Output string

	status string // "exit 1", "signal: killed"
	// full is the cleaned output before scrubbing and cutting: it is
	// searched for porter's "not installed" texts, and never shown.
	full string
}

// Error says what failed and how, quotes the output tail, and ends with the
// masked command line: "porter install failed (exit 1): <tail>; command:
// porter install <id> --reference ... --param name=*** ...".
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed (%s): ", e.Command, e.status)
	if e.Output == "" {
		b.WriteString("no output")
	} else {
		b.WriteString(e.Output)
	}
	if e.CommandLine != "" && e.CommandLine != e.Command {
		b.WriteString("; command: ")
		b.WriteString(e.CommandLine)
	}
	return b.String()
}

// outputContains reports whether err is an *ExitError whose output has one
// of texts.
func outputContains(err error, texts ...string) bool {
	e, ok := err.(*ExitError)
	if !ok {
		return false
	}
	for _, t := range texts {
		if strings.Contains(e.full, t) {
			return true
		}
	}
	return false
}

// run runs c to its end and returns its standard output if c.capture. A
// non-zero exit is an *ExitError whatever the command printed. When ctx
// ends first the process group gets SIGTERM, then SIGKILL after the grace
// period, and the error wraps ctx.Err().
func (r *Runner) run(ctx context.Context, log *slog.Logger, c command) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s not started: %w", c.what, err)
	}
	cmd := exec.Command(c.path, c.args...)
	cmd.Env = slices.Clip(r.env)
	cmd.SysProcAttr = groupAttr()
	cmd.WaitDelay = r.pipeDrain
	tail := &tailBuffer{max: r.rawTail}
	var stdout bytes.Buffer
	if c.capture {
		cmd.Stdout, cmd.Stderr = &stdout, tail
	} else {
		// One writer for both: os/exec then uses one pipe, which keeps
		// the order in which porter wrote.
		var w io.Writer = tail
		if c.stream != nil {
			w = io.MultiWriter(tail, c.stream)
		}
		cmd.Stdout, cmd.Stderr = w, w
	}

	log.Info("command started", "command", c.shown)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.what, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		r.stop(cmd, done)
		log.Info("command stopped", "command", c.what, "duration", time.Since(start).String())
		return nil, fmt.Errorf("%s stopped: %w", c.what, ctx.Err())
	}

	st := cmd.ProcessState
	if st == nil {
		return nil, fmt.Errorf("wait %s: %w", c.what, waitErr)
	}
	log.Info("command finished", "command", c.what, "exit_code", st.ExitCode(), "duration", time.Since(start).String())
	if st.Success() {
		// waitErr may be exec.ErrWaitDelay (a child kept the output
		// open): the command itself succeeded.
		return stdout.Bytes(), nil
	}
	raw, truncated := tail.bytes(), tail.truncated()
	if c.capture && len(bytes.TrimSpace(raw)) == 0 {
		// Nothing on standard error: quote what it printed instead.
		raw, truncated = stdout.Bytes(), stdout.Len() > r.rawTail
		raw = raw[len(raw)-min(len(raw), r.rawTail):]
	}
	full := clean(raw, truncated)
	status := st.String() // "signal: killed"
	if st.Exited() {
		status = fmt.Sprintf("exit %d", st.ExitCode())
	}
	return nil, &ExitError{
		Command:     c.what,
		CommandLine: c.shown,
		ExitCode:    st.ExitCode(),
		Output:      lastBytes(scrub(full, c.secrets), r.outputTail),
		status:      status,
		full:        full,
	}
}

// stop ends a running command: SIGTERM to its process group, and SIGKILL
// to the group once porter has exited or the grace period is over, for
// children that ignored SIGTERM. It returns when Wait has.
func (r *Runner) stop(cmd *exec.Cmd, done <-chan error) {
	// Errors are ignored: the group may be gone already. (Signalling a
	// group whose leader was just reaped could in theory reach a new group
	// with a reused id; the window is the few instructions between Wait
	// and here, as in every supervisor that kills process groups.)
	_ = terminate(cmd.Process)
	select {
	case <-done:
		_ = kill(cmd.Process)
		return
	case <-r.after(r.grace):
	}
	_ = kill(cmd.Process)
	<-done
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped bool // bytes were discarded from buf
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	// Compact at twice the size, so that a stream of small writes does
	// not copy the buffer each time.
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.dropped = true
	}
	return len(p), nil
}

// bytes returns the last max bytes written.
func (t *tailBuffer) bytes() []byte {
	return t.buf[len(t.buf)-min(len(t.buf), t.max):]
}

// truncated reports whether more was written than bytes returns.
func (t *tailBuffer) truncated() bool {
	return t.dropped || len(t.buf) > t.max
}

// ansiEscape matches terminal escape sequences: CSI (colours, cursor),
// OSC (titles, links) and the two-byte ones.
var ansiEscape = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])`)
})

// clean turns raw output into one line of text: escape sequences removed,
// control characters and runs of whitespace made one space. When the
// output was cut at the front (truncated), the first, possibly partial,
// word is dropped.
func clean(raw []byte, truncated bool) string {
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	s = ansiEscape().ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	words := strings.Fields(s)
	if truncated && len(words) > 0 {
		words = words[1:]
	}
	return strings.Join(words, " ")
}

// scrub replaces every secret in s by ***, longest first so that a secret
// containing another is replaced whole.
func scrub(s string, secrets []string) string {
	if len(secrets) == 0 {
		return s
	}
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	for _, v := range sorted {
		// The output's whitespace was collapsed, so collapse the
		// secret's too.
		v = strings.Join(strings.Fields(v), " ")
		if len(v) >= minSecretLen {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}

// lastBytes returns the end of s, at most n bytes, beginning with "..."
// when s was cut. It cuts on a rune boundary.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const cut = "..."
	if n <= len(cut) {
		return ""
	}
	s = s[len(s)-(n-len(cut)):]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return cut + s
}
