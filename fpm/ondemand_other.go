//go:build !linux

package fpm

// watchSocket is Linux-only; elsewhere ondemand relies on the maintenance
// tick's readiness check.
func (p *pool) watchSocket() (stop func()) { return func() {} }
