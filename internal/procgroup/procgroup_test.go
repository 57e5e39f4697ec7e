//go:build linux

package procgroup

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestKillRecordedGroup(t *testing.T) {
	dir := t.TempDir()
	// A leader with a child, as a step's shell running a command.
	cmd := exec.Command("/bin/sh", "-c", "sleep 30 & wait")
	cmd.SysProcAttr = Attr()
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	require.NoError(t, Record(dir, cmd.Process.Pid))

	found, err := KillRecorded(dir)
	require.NoError(t, err)
	require.True(t, found)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the recorded group was not killed")
	}
	_, err = os.Stat(dir + "/" + RecordFile)
	require.True(t, os.IsNotExist(err), "the record is removed")

	found, err = KillRecorded(dir)
	require.NoError(t, err)
	require.False(t, found)
	require.False(t, alive(cmd.Process.Pid))
}
