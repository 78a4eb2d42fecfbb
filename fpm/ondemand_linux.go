//go:build linux

package fpm

// This file watches an ondemand pool's listening socket: the master learns
// that a connection waits without accepting it (the workers accept), as
// php-fpm does with an edge-triggered epoll registration.

import (
	"errors"

	"golang.org/x/sys/unix"
)

// watchSocket starts a goroutine that signals p.waiting on every new
// connection edge; the returned function stops it.
func (p *pool) watchSocket() (stop func()) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		p.log.Error().Err(err).Msgf("[pool %s] ondemand: epoll_create1: %v", p.cfg.Name, err)
		return func() {}
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		p.log.Error().Err(err).Msgf("[pool %s] ondemand: eventfd: %v", p.cfg.Name, err)
		return func() {}
	}
	sfd := int(p.sock.Fd())
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, sfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(sfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		p.log.Error().Err(err).Msgf("[pool %s] ondemand: watching the socket: %v", p.cfg.Name, err)
		return func() {}
	}
	unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		events := make([]unix.EpollEvent, 2)
		for {
			n, err := unix.EpollWait(epfd, events, -1)
			if err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return
			}
			for _, ev := range events[:n] {
				if int(ev.Fd) == efd {
					return
				}
				select {
				case p.waiting <- struct{}{}:
				default: // one pending notice is enough
				}
			}
		}
	}()
	return func() {
		var one = [8]byte{1}
		unix.Write(efd, one[:])
		<-done
		unix.Close(epfd)
		unix.Close(efd)
	}
}
