package fpm

// What `gofpm check` adds to the configuration test: whether each pool's
// address can be bound now, and (--as USER) whether a given user, a web
// server's, could connect to each pool's Unix socket. The socket set's
// package (fpm/internal/sockets) answers; this file asks it for each pool.

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/sockets"
)

// CheckSockets checks every pool's listen address (and pm_status_listen):
// that its directory exists and is writable, that nothing else listens
// there (a process holding it is named by pid; the running master of this
// configuration, found through its pid file, is fine: a reload takes its
// sockets over; so is systemd holding it for socket activation), and that ACLs are supported where they are asked for.
// With users, it also tells whether each of them could connect to each
// Unix socket, from listen_owner/group/mode/ACLs and the search permission
// of every directory above it, with the fix for each problem. It returns
// one line per finding and false if any is an error.
func CheckSockets(cfg *config.Config, users []string) (lines []string, ok bool) {
	ok = true
	running := pidFromFile(cfg.Pid)
	type target struct {
		pc     *config.Pool
		listen string
		isUnix bool
	}
	var targets []target
	for _, name := range cfg.PoolOrder {
		pc := cfg.Pools[name]
		targets = append(targets, target{pc, pc.Listen, pc.ListenAddr.Network == "unix"})
		if pc.PMStatusListen != "" {
			targets = append(targets, target{pc, pc.PMStatusListen, pc.StatusAddr.Network == "unix"})
		}
	}
	for _, t := range targets {
		network := "tcp"
		if t.isUnix {
			network = "unix"
		}
		acl := len(t.pc.ListenACLUsers)+len(t.pc.ListenACLGroups) > 0
		for _, l := range sockets.Check(sockProbe(), network, t.listen, acl, running) {
			lines = append(lines, fmt.Sprintf("pool %q: %s", t.pc.Name, l.Text))
			ok = ok && l.OK
		}
	}
	for _, name := range users {
		u, err := config.LookupUser(name)
		if err != nil {
			lines = append(lines, fmt.Sprintf("--as %s: unknown user", name))
			ok = false
			continue
		}
		for _, t := range targets {
			if !t.isUnix {
				lines = append(lines, fmt.Sprintf("pool %q: %s is TCP; --as applies to Unix sockets (see listen_allowed_clients)", t.pc.Name, t.listen))
				continue
			}
			problems, err := userCanConnect(t.pc, t.listen, u)
			switch {
			case err != nil:
				lines = append(lines, fmt.Sprintf("pool %q: user %s: %v", t.pc.Name, u.Username, err))
				ok = false
			case len(problems) == 0:
				lines = append(lines, fmt.Sprintf("pool %q: user %s can connect to %s", t.pc.Name, u.Username, t.listen))
			default:
				for _, p := range problems {
					lines = append(lines, fmt.Sprintf("pool %q: user %s cannot connect to %s: %s", t.pc.Name, u.Username, t.listen, p))
				}
				ok = false
			}
		}
	}
	return lines, ok
}

// pidFromFile reads a pid file; 0 when there is none.
func pidFromFile(path string) int {
	if path == "" {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// userCanConnect lists what stops u from connecting to the socket pc would
// create at path: directories it cannot search, the socket's permissions.
func userCanConnect(pc *config.Pool, path string, u *user.User) ([]string, error) {
	perms, _ := socketPerms(pc)
	return sockets.AccessProblems(path, perms, pc.ListenACLUsers, pc.ListenGroup != "", u), nil
}
