package nodetest

import "syscall"

// sysProcAttr has the kernel kill the program when the test binary dies,
// even by SIGKILL, which gives it no chance to stop the program. (Strictly,
// when the thread that started it ends: Go ends a thread only under a
// goroutine that locked it and returned without unlocking, which a test
// that starts a server does not do.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
