//go:build unix && !linux

package procgroup

import "syscall"

// Attr starts a process as the leader of a new process group.
func Attr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signal(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
