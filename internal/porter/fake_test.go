//go:build unix

package porter

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tre-go/tre/internal/porter/portertest"
)

// The fake porter and az are this test binary, run through symbolic links
// named "porter", "az" and "child" in a test's temporary directory: TestMain
// sees the link's name in os.Args[0] and runs the fake instead of the
// tests. Nothing selects the fake through the environment, so the fake
// sees exactly the environment the runner gives it. The directory is the
// fake's state: it reads fake.json (what to do) and appends each call to
// calls.jsonl.

func TestMain(m *testing.M) {
	// The fakes of portertest (setup tests) first: they run only in the
	// directories portertest.Install makes.
	portertest.Main()
	switch filepath.Base(os.Args[0]) {
	case "porter", "az":
		fakeExit(fakeMain())
	case "child":
		fakeExit(fakeChild())
	}
	os.Exit(m.Run())
}

// fakeExit ends the fake. Not os.Exit: under -race that waits a second
// for the race detector's report (its atexit_sleep_ms, set through GORACE,
// which the fake's exact environment does not have). The fake writes
// unbuffered, so nothing is lost.
func fakeExit(code int) {
	syscall.Exit(code)
}

// fakeSpec tells the fake what to do, per command key (see fakeKey).
type fakeSpec struct {
	Steps map[string]fakeStep `json:"steps"`
}

// fakeStep is what the fake does for one command.
type fakeStep struct {
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// EchoArgs prints the received command line on standard error, as
	// some failing tools do: its parameter values must not reach an
	// error message.
	EchoArgs bool `json:"echoArgs,omitempty"`
	Exit     int  `json:"exit,omitempty"`
	// Hang prints "started" and runs until killed, recording SIGTERM in
	// the file "signals"; with ExitOnTerm it exits on SIGTERM instead.
	Hang       bool `json:"hang,omitempty"`
	ExitOnTerm bool `json:"exitOnTerm,omitempty"`
	// Child starts, before "started", a child process in porter's process
	// group that records SIGTERM and otherwise runs until killed, holding
	// porter's output open.
	Child bool `json:"child,omitempty"`
	// ChildQuiet gives the child no output, so that it does not hold
	// porter's output open.
	ChildQuiet bool `json:"childQuiet,omitempty"`
}

// fakeCall is one recorded run of the fake.
type fakeCall struct {
	Prog string   `json:"prog"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
}

// fakeKey names a command: the porter subcommand ("explain", "install",
// "invoke", "output" for installations output list) or "az" and its
// subcommand words ("az acr login").
func fakeKey(prog string, args []string) string {
	if prog == "az" {
		words := []string{"az"}
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				break
			}
			words = append(words, a)
		}
		return strings.Join(words, " ")
	}
	if len(args) == 0 {
		return ""
	}
	if args[0] == "installations" {
		return "output"
	}
	return args[0]
}

// safetyTimeout ends a hanging fake that nobody killed, so that a broken
// runner leaves no process behind.
const safetyTimeout = time.Minute

func fakeMain() int {
	dir := filepath.Dir(os.Args[0])
	prog := filepath.Base(os.Args[0])
	args := os.Args[1:]

	call, _ := json.Marshal(fakeCall{Prog: prog, Args: args, Env: os.Environ()})
	if err := appendFile(filepath.Join(dir, "calls.jsonl"), string(call)+"\n"); err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 70
	}
	if prog == "porter" {
		if err := checkPorterArgs(args); err != nil {
			fmt.Fprintln(os.Stderr, "fake porter: bad arguments:", err)
			return 64
		}
	}
	var spec fakeSpec
	b, err := os.ReadFile(filepath.Join(dir, "fake.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake: spec:", err)
		return 70
	}
	step := spec.Steps[fakeKey(prog, args)]

	os.Stdout.WriteString(step.Stdout)
	if step.EchoArgs {
		fmt.Fprintln(os.Stderr, "Error: called as", prog, strings.Join(args, " "))
	}
	os.Stderr.WriteString(step.Stderr)
	if step.Hang {
		return hang(dir, step)
	}
	return step.Exit
}

// checkPorterArgs checks the shape of a porter command line the way
// porter's flag parser would reject it.
func checkPorterArgs(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no subcommand")
	}
	switch args[0] {
	case "explain", "install", "upgrade", "uninstall", "invoke":
		if !hasFlag(args, "--reference") {
			return fmt.Errorf("no --reference")
		}
	case "installations":
		if !hasFlag(args, "--installation") {
			return fmt.Errorf("no --installation")
		}
	default:
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	for i, a := range args {
		if a == "--param" && (i+1 == len(args) || !strings.Contains(args[i+1], "=")) {
			return fmt.Errorf("--param without name=value")
		}
	}
	return nil
}

func hasFlag(args []string, flag string) bool {
	for i, a := range args {
		if a == flag && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			return true
		}
	}
	return false
}

func hang(dir string, step fakeStep) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if step.Child {
		if err := startChild(dir, !step.ChildQuiet); err != nil {
			fmt.Fprintln(os.Stderr, "fake: child:", err)
			return 70
		}
	}
	fmt.Println("started")
	timeout := time.After(safetyTimeout)
	for {
		select {
		case <-sigs:
			_ = appendFile(filepath.Join(dir, "signals"), "porter: SIGTERM\n")
			if step.ExitOnTerm {
				return 143
			}
		case <-timeout:
			return 99
		}
	}
}

// startChild starts the child and waits until it handles SIGTERM (it
// says so on a pipe), so that a SIGTERM cannot come before the handler.
func startChild(dir string, output bool) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(filepath.Join(dir, "child"))
	if output {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	}
	cmd.ExtraFiles = []*os.File{w}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil {
		return fmt.Errorf("child not ready: %w", err)
	}
	return nil
}

func fakeChild() int {
	dir := filepath.Dir(os.Args[0])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if err := os.WriteFile(filepath.Join(dir, "child.pid"), fmt.Appendf(nil, "%d", os.Getpid()), 0o600); err != nil {
		return 70
	}
	ready := os.NewFile(3, "ready")
	_, _ = ready.Write([]byte{1})
	ready.Close()
	timeout := time.After(safetyTimeout)
	for {
		select {
		case <-sigs:
			_ = appendFile(filepath.Join(dir, "signals"), "child: SIGTERM\n")
		case <-timeout:
			return 99
		}
	}
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
