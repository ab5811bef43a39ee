package crash

import "syscall"

// sysProcAttr makes a child die with the driver, so that a driver that
// panics or times out leaves no server running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
