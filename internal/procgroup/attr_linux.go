//go:build linux

package procgroup

import "syscall"

// Attr starts a process as the leader of a new process group, killed if
// the agent dies (so a crashed agent leaves no bundle running behind the
// request that will run again).
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signal(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
