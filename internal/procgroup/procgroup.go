// Package procgroup runs bundle processes as process groups that can be
// stopped as a whole, and that do not outlive the agent: on Linux the
// group leader gets SIGKILL when the agent dies, and the group of a step
// interrupted by a crash is recorded so that the next run of the same
// installation kills what is left of it before starting again.
package procgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Terminate asks the process group led by pid to stop (SIGTERM).
func Terminate(pid int) error { return signal(pid, syscall.SIGTERM) }

// Kill ends the process group led by pid (SIGKILL).
func Kill(pid int) error { return signal(pid, syscall.SIGKILL) }

// RecordFile is the file, in an installation's state directory, that
// names the process group of the step running for it.
const RecordFile = "running.pgid"

// Record notes that the group led by pgid runs in dir.
func Record(dir string, pgid int) error {
	if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte(strconv.Itoa(pgid)), 0o600); err != nil {
		return fmt.Errorf("procgroup: record: %w", err)
	}
	return nil
}

// Forget removes the record of dir.
func Forget(dir string) {
	_ = os.Remove(filepath.Join(dir, RecordFile))
}

// KillRecorded kills the group recorded in dir, if any (left by an agent
// that died while the step ran), and removes the record. It reports
// whether there was one.
func KillRecorded(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("procgroup: read record: %w", err)
	}
	defer Forget(dir)
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pgid <= 1 {
		return false, nil
	}
	if err := Kill(pgid); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("procgroup: kill leftover group %d: %w", pgid, err)
	}
	return true, nil
}
