//go:build unix

package porter

import (
	"os"
	"syscall"
)

// groupAttr starts porter as the leader of a new process group: porter
// runs docker, terraform and az as children, and a stop must reach them
// too.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks p's process group to stop.
func terminate(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGTERM)
}

// kill ends p's process group.
func kill(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}
