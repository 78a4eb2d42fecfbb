// Package sockets owns the master's listening sockets. A Set creates them
// (Unix sockets with their mode, owner or ACL from the first moment, TCP
// sockets with listen_allowed_clients' filter, an address in use named by
// its holder), takes the ones a previous master or systemd passed down,
// lists the ones in use for the hand-over to a new master on a reload,
// and closes them, removing the socket files that are its to remove.
//
// It also answers `gofpm check`'s questions about sockets: could an
// address be bound now (Check), and could a given user connect to a Unix
// socket (AccessProblems).
package sockets

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Spec is one listening socket, its settings resolved.
type Spec struct {
	// Network is "unix" (Address is the socket's path) or "tcp"
	// (Address is host:port).
	Network, Address string
	// Key names the socket in a hand-over, and a new master finds it by
	// the same Key; "" is Address.
	Key string
	// Names are the systemd socket names (LISTEN_FDNAMES) it may be
	// passed as, looked up before Key.
	Names []string
	// Aliases are further keys looked up after Key.
	Aliases []string
	// Backlog is listen(2)'s; 0 or less is SOMAXCONN.
	Backlog int
	// Perms are a Unix socket's, applied to a socket the set creates.
	Perms Perms
	// AllowedClients are the only clients a TCP socket lets connect
	// (empty: any); an inherited socket is brought up to date too.
	AllowedClients []netip.Addr
}

func (sp Spec) key() string {
	if sp.Key != "" {
		return sp.Key
	}
	return sp.Address
}

func (sp Spec) isUnix() bool { return sp.Network == "unix" }

// Set is the master's sockets: the ones it inherited and has not used
// yet, and the ones in use, in the order they were opened. The master
// makes one at start and hands it to whoever needs a socket. A Set is
// safe for concurrent use.
type Set struct {
	probe Probe

	mu          sync.Mutex
	inherited   map[string]*os.File // by key, "name:NAME" for systemd names
	inheritedID map[string]fileID   // socket files of inherited sockets, by path, as found at Inherit
	systemd     bool                // the inherited sockets are systemd's, and so are their files
	used        []entry
}

// entry is a socket in use: given out as a file or as a listener.
type entry struct {
	key  string
	f    *os.File
	ln   net.Listener
	path string // the Unix socket's path
	id   fileID // its file when the set took it: Close removes only that file
}

// New returns an empty set; probe names the holder of an address in use.
func New(probe Probe) *Set {
	return &Set{probe: probe, inherited: map[string]*os.File{}, inheritedID: map[string]fileID{}}
}

// Inherit takes the sockets a previous master handed over, listed as
// HandOver lists them ("3=/run/gofpm/www.sock,4=http:127.0.0.1:8080").
//
// Every fd is made close-on-exec at once: a worker must get its own
// pool's socket as fd 0 and nothing else, not the other pools' sockets
// (which it could accept on).
func (s *Set) Inherit(list string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for item := range strings.SplitSeq(list, ",") {
		fdText, key, ok := strings.Cut(item, "=")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			return fmt.Errorf("malformed entry %q", item)
		}
		unix.CloseOnExec(fd)
		s.inherited[key] = os.NewFile(uintptr(fd), key)
		if strings.HasPrefix(key, "/") {
			s.inheritedID[key] = socketFileID(key)
		}
	}
	return nil
}

// InheritSystemd takes the n sockets systemd passed (socket activation:
// fds 3 and up), each found by its name in names (LISTEN_FDNAMES) and by
// its bound address. systemd owns their files: the set never removes them.
func (s *Set) InheritSystemd(n int, names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.systemd = true
	for i := range n {
		fd := 3 + i
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "systemd")
		if i < len(names) && names[i] != "" && names[i] != "unknown" {
			s.inherited["name:"+names[i]] = f
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return fmt.Errorf("socket activation: fd %d: %w", fd, err)
		}
		switch a := sa.(type) {
		case *unix.SockaddrUnix:
			s.inherited[a.Name] = f
		case *unix.SockaddrInet4:
			s.inherited[net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))] = f
			s.inherited[":"+strconv.Itoa(a.Port)] = f
		case *unix.SockaddrInet6:
			s.inherited[net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))] = f
			s.inherited[":"+strconv.Itoa(a.Port)] = f
		}
	}
	return nil
}

// take returns the inherited socket for sp, if any, and forgets it under
// every key (a systemd socket is there by name and by address).
func (s *Set) take(sp Spec) *os.File {
	keys := make([]string, 0, len(sp.Names)+1+len(sp.Aliases))
	for _, n := range sp.Names {
		keys = append(keys, "name:"+n)
	}
	keys = append(append(keys, sp.key()), sp.Aliases...)
	for _, k := range keys {
		if f := s.inherited[k]; f != nil {
			s.forget(f)
			return f
		}
	}
	return nil
}

func (s *Set) forget(f *os.File) {
	for k, g := range s.inherited {
		if g == f {
			delete(s.inherited, k)
		}
	}
}

// open returns sp's socket, inherited (and then its fd) or new (-1).
func (s *Set) open(sp Spec) (f *os.File, inheritedFD int, err error) {
	if f := s.take(sp); f != nil {
		if !sp.isUnix() {
			if err := SetAllowedClients(f, sp.AllowedClients); err != nil {
				f.Close()
				return nil, -1, err
			}
		}
		return f, int(f.Fd()), nil
	}
	backlog := sp.Backlog
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if sp.isUnix() {
		f, err := s.probe.listenUnix(sp.Address, backlog, sp.Perms)
		return f, -1, err
	}
	// The client filter goes on between bind and listen: a connection
	// completed before it would reach the workers unfiltered.
	fd, err := s.probe.bindTCP(sp.Address)
	if err != nil {
		return nil, -1, err
	}
	f = os.NewFile(uintptr(fd), sp.Address)
	if err := SetAllowedClients(f, sp.AllowedClients); err != nil {
		f.Close()
		return nil, -1, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		f.Close()
		return nil, -1, fmt.Errorf("listening on %s: %w", sp.Address, err)
	}
	return f, -1, nil
}

func (s *Set) use(sp Spec, f *os.File, ln net.Listener) {
	e := entry{key: sp.key(), f: f, ln: ln}
	if sp.isUnix() {
		e.path = sp.Address
		e.id = socketFileID(e.path)
	}
	s.used = append(s.used, e)
}

// Listen returns sp's socket as a file in blocking mode, what php-cgi and
// libfcgi workers need as their fd 0 (they treat EAGAIN from accept as
// fatal): the one inherited under one of sp's keys, or a new one the set
// creates with socket, bind and listen, so that the backlog is honoured.
// inheritedFD is the fd it was inherited as, -1 for a new one. The set
// keeps f for the hand-over and closes it in Close.
func (s *Set) Listen(sp Spec) (f *os.File, inheritedFD int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, inheritedFD, err = s.open(sp)
	if err != nil {
		return nil, -1, err
	}
	s.use(sp, f, nil)
	return f, inheritedFD, nil
}

// Listener is Listen for a server of this process: the socket as a
// net.Listener.
func (s *Set) Listener(sp Spec) (ln net.Listener, inheritedFD int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, inheritedFD, err := s.open(sp)
	if err != nil {
		return nil, -1, err
	}
	ln, err = net.FileListener(f)
	f.Close()
	s.use(sp, nil, ln) // on error too: Close removes the socket file
	if err != nil {
		return nil, -1, err
	}
	return ln, inheritedFD, nil
}

// GoListener returns sp's socket as a net.Listener: the inherited one,
// or a new one from net.Listen (Go's defaults: no backlog, no client
// filter, no holder named when the address is in use). The HTTP front's.
func (s *Set) GoListener(sp Spec) (ln net.Listener, inheritedFD int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inheritedFD = -1
	if f := s.take(sp); f != nil {
		inheritedFD = int(f.Fd())
		ln, err = net.FileListener(f)
		f.Close()
	} else {
		ln, err = net.Listen(sp.Network, sp.Address)
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false) // Close removes it, if it is still this one
		}
	}
	if err != nil {
		return nil, -1, err
	}
	s.use(sp, nil, ln)
	return ln, inheritedFD, nil
}

// HandOver lists the sockets in use, in the order they were opened, for
// a new master: files are to be its fds first, first+1, and so on, and
// list names them for its Inherit. A listener's socket is handed over as
// a copy; release closes the copies, once the new master has them.
func (s *Set) HandOver(first int) (list string, files []*os.File, release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dups []*os.File
	release = func() {
		for _, f := range dups {
			f.Close()
		}
	}
	var items []string
	for _, e := range s.used {
		f := e.f
		if f == nil && e.ln != nil {
			if f, err = listenerFile(e.ln); err != nil {
				release()
				return "", nil, nil, err
			}
			dups = append(dups, f)
		}
		if f == nil {
			continue
		}
		items = append(items, strconv.Itoa(first+len(files))+"="+e.key)
		files = append(files, f)
	}
	return strings.Join(items, ","), files, release, nil
}

// listenerFile returns a dup of a net.Listener's socket.
func listenerFile(ln net.Listener) (*os.File, error) {
	type filer interface{ File() (*os.File, error) }
	f, ok := ln.(filer)
	if !ok {
		return nil, fmt.Errorf("cannot hand over a %T", ln)
	}
	return f.File()
}

// CloseInherited closes the inherited sockets nobody took (pools the new
// configuration dropped) and removes their socket files, unless they are
// systemd's: a master leaves its socket files in place for its successor.
func (s *Set) CloseInherited() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, f := range s.inherited {
		s.forget(f)
		f.Close()
		if !s.systemd && strings.HasPrefix(key, "/") {
			removeOwnSocket(key, s.inheritedID[key])
		}
	}
}

// Close closes every socket in use and, with unlink (no successor took
// them over), removes the Unix socket files, unless they are systemd's.
// warn is told of a file that could not be removed.
func (s *Set) Close(unlink bool, warn func(path string, err error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.used {
		if e.f != nil {
			e.f.Close()
		}
		if e.ln != nil {
			e.ln.Close()
		}
		if !unlink || s.systemd || e.path == "" {
			continue
		}
		if err := removeOwnSocket(e.path, e.id); err != nil && !errors.Is(err, os.ErrNotExist) && warn != nil {
			warn(e.path, err)
		}
	}
	s.used = nil
}
