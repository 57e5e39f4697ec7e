package nodetest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const helperEnv = "NODETEST_WANT_HELPER_PROCESS"

// TestHelperProcess is not a test: TestProcessDiesWithTestBinary runs the
// test binary with it as a parent that starts echo.js (which ignores its
// stdin) and is then killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	script, err := SourcePath("testdata/echo.js")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	p, err := StartProcess(script, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", p.cmd.Process.Pid)
	select {} // until killed
}

func TestProcessDiesWithTestBinary(t *testing.T) {
	Require(t)
	parent := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	stdout, err := parent.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, parent.Start())
	t.Cleanup(func() {
		_ = parent.Process.Kill()
		_ = parent.Wait()
	})

	var pid int
	sc := bufio.NewScanner(stdout)
	for pid == 0 && sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "error "), line)
		_, _ = fmt.Sscanf(line, "pid %d", &pid)
	}
	require.NotZero(t, pid, "the helper printed no pid: %v", sc.Err())
	require.False(t, gone(pid), "node runs")

	// SIGKILL: the parent stops nothing.
	require.NoError(t, parent.Process.Kill())
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		require.True(t, time.Now().Before(deadline), "node (pid %d) outlived its parent by 10 s", pid)
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether process pid has exited (a zombie nobody reaped has).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || strings.HasPrefix(string(stat[i+1:]), " Z")
}
