package localrunner

import (
	"bytes"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxTail bounds the bundle output kept in a failed step's error message;
// ringSize bounds what is kept while the step runs to build it.
const (
	maxTail  = 4 << 10
	ringSize = 64 << 10
)

// censored is what Porter writes in place of a sensitive value.
const censored = "*******"

// censor replaces sensitive values in a stream before it reaches w, as
// Porter does in bundle logs, and passes the stream on in whole lines, so
// that a process's stdout and stderr do not cut into each other's lines in
// the log. It never passes on the last len(longest value)-1 bytes of a
// line it has not seen the end of, so that a value split across two writes
// is still caught; lines longer than maxLine go on in pieces.
type censor struct {
	w         io.Writer
	secrets   [][]byte // longest first
	keep      int
	multiline bool // some value holds a line end
	buf       []byte
}

// maxLine is the longest partial line a censor holds back.
const maxLine = 4 << 10

func newCensor(w io.Writer, secrets []string) *censor {
	c := &censor{w: w}
	for _, s := range secrets {
		// A value of stars would match its own replacement.
		if strings.Trim(s, "*") == "" {
			continue
		}
		c.secrets = append(c.secrets, []byte(s))
		c.keep = max(c.keep, len(s)-1)
		c.multiline = c.multiline || strings.ContainsAny(s, "\r\n")
	}
	sort.Slice(c.secrets, func(i, j int) bool { return len(c.secrets[i]) > len(c.secrets[j]) })
	return c
}

func (c *censor) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for _, s := range c.secrets {
		c.buf = bytes.ReplaceAll(c.buf, s, []byte(censored))
	}
	// Bytes before safe cannot be the start of a value still arriving.
	safe := len(c.buf) - c.keep
	lines := bytes.LastIndexByte(c.buf, '\n') + 1
	if !c.multiline {
		// A value without a line end cannot span one.
		safe = max(safe, lines)
	}
	n := min(lines, safe)
	if len(c.buf)-n > maxLine {
		n = max(n, safe)
	}
	if n > 0 {
		_, _ = c.w.Write(c.buf[:n])
		c.buf = append(c.buf[:0], c.buf[n:]...)
	}
	return len(p), nil
}

// flush writes what was held back.
func (c *censor) flush() {
	if len(c.buf) > 0 {
		_, _ = c.w.Write(c.buf)
		c.buf = c.buf[:0]
	}
}

// ring keeps the last ringSize bytes written to it.
type ring struct {
	buf     []byte
	dropped bool
}

func (r *ring) Write(p []byte) (int, error) {
	r.buf = append(r.buf, p...)
	if over := len(r.buf) - ringSize; over > 0 {
		r.buf = append(r.buf[:0], r.buf[over:]...)
		r.dropped = true
	}
	return len(p), nil
}

// lockedWriter serialises the writes of a process's stdout and stderr
// copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// quiet passes writes to w and ignores its errors: a failing log sink must
// not fail the bundle.
type quiet struct{ w io.Writer }

func (q quiet) Write(p []byte) (int, error) {
	if q.w != nil {
		_, _ = q.w.Write(p)
	}
	return len(p), nil
}

// capped keeps up to limit bytes and records whether more came.
type capped struct {
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - c.buf.Len(); room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// ansi matches terminal escape sequences: CSI (colours, cursor moves), OSC
// (titles, links) and two-character escapes.
var ansi = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]`)
})

// stripANSI removes escape sequences, and keeps of each line only what
// follows its last carriage return (what a terminal would show of a
// progress line).
func stripANSI(s string) string {
	s = ansi().ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// failureText is the error message of a failed step: the end of its
// stdout followed by the end of its stderr, at most limit bytes with
// stderr (where tools write their errors) kept first. Two pipes do not
// keep the order in which a process wrote to them, so stderr goes last
// rather than where it happened to arrive.
func failureText(stdout, stderr *ring, limit int) string {
	errText := tail(stderr.buf, stderr.dropped, limit)
	room := limit
	if errText != "" {
		room -= len(errText) + 1
	}
	var parts []string
	// Too little room left is not worth a line cut to nothing.
	if room >= 64 {
		if outText := tail(stdout.buf, stdout.dropped, room); outText != "" {
			parts = append(parts, outText)
		}
	}
	if errText != "" {
		parts = append(parts, errText)
	}
	return strings.Join(parts, "\n")
}

// tail returns the end of an output for an error message: escape codes
// stripped, at most limit bytes, whole lines where they fit. It starts
// with "..." when earlier output was left out.
func tail(raw []byte, dropped bool, limit int) string {
	const marker = "...\n"
	limit -= len(marker)
	s := stripANSI(strings.ToValidUTF8(string(raw), ""))
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	if dropped && len(lines) > 1 {
		// The first line was cut by the ring buffer.
		lines = lines[1:]
	}
	truncated := dropped
	kept, size := 0, 0
	for i := len(lines) - 1; i >= 0; i-- {
		if size+len(lines[i])+1 > limit {
			truncated = true
			break
		}
		size += len(lines[i]) + 1
		kept++
	}
	var out string
	if kept == 0 && len(lines) > 0 {
		// One line longer than the limit: keep its end.
		last := lines[len(lines)-1]
		cut := len(last) - limit
		for cut < len(last) && !utf8.RuneStart(last[cut]) {
			cut++
		}
		out = last[cut:]
		truncated = true
	} else {
		out = strings.Join(lines[len(lines)-kept:], "\n")
	}
	out = strings.TrimSpace(out)
	if truncated && out != "" {
		out = marker + out
	}
	return out
}
