//go:build !linux

package cgi

import "syscall"

func scriptSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// waitExited cannot wait without reaping here: it returns at once, and
// exec.Cmd.Wait waits (with the timeout disarmed) instead.
func waitExited(int) {}
