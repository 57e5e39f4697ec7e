//go:build !unix

package porter

import (
	"os"
	"syscall"
)

// groupAttr: without Unix process groups, porter's children are not
// reached by a stop.
func groupAttr() *syscall.SysProcAttr { return nil }

// terminate asks p to stop where the system can (not on Windows, where
// the grace period then ends in a kill).
func terminate(p *os.Process) error { return p.Signal(os.Interrupt) }

// kill ends p.
func kill(p *os.Process) error { return p.Kill() }
