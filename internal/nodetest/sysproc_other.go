//go:build !linux

package nodetest

import "syscall"

// sysProcAttr has nothing to add outside Linux: there the program learns
// that the test binary is gone from the end of file on its stdin.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
