//go:build !unix

package procgroup

import (
	"os"
	"syscall"
)

// Attr has no process groups to offer here.
func Attr() *syscall.SysProcAttr { return nil }

func signal(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if sig == syscall.SIGKILL {
		return p.Kill()
	}
	return p.Signal(os.Interrupt)
}
