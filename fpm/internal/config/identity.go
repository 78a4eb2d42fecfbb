package config

// Users and groups: php-fpm's root rules, and the lookups of names and
// numbers.

import (
	"fmt"
	"math"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// validateIdentity applies php-fpm's root rules: a root master needs a user
// per pool (unless -R) other than root; a non-root master cannot switch
// identity, and gofpm refuses the setting rather than ignore it.
func (l *loader) validateIdentity(p *Pool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) keyPath { return keyPath{"pool", p.Name, key} }
	if l.opts.Euid != 0 {
		if p.User != "" {
			l.errAt(at("user"), "%suser: setting a user needs a root master", pre)
		}
		if p.Group != "" {
			l.errAt(at("group"), "%sgroup: setting a group needs a root master", pre)
		}
		if len(p.Groups) > 0 {
			l.errAt(at("groups"), "%sgroups: setting groups needs a root master", pre)
		}
		if p.Chroot != "" {
			l.errAt(at("chroot"), "%schroot: chroot needs a root master", pre)
		}
		l.validateUnprivileged(p)
		return
	}
	const notRoot = "please specify user and group other than root"
	var id *Identity
	switch {
	case p.User == "":
		if !l.opts.AllowRoot {
			l.errAt(keyPath{"pool", p.Name}, "%suser has not been defined (a root master needs user = \"...\" or -R / --allow-to-run-as-root)", pre)
		}
	default:
		u, ok := lookupUser(p.User)
		switch {
		case !ok:
			l.errAt(at("user"), "%suser: unknown user %q", pre, p.User)
		case u.uid == 0 && !l.opts.AllowRoot:
			l.errAt(at("user"), "%s%s", pre, notRoot)
		case p.Group == "" && u.gid == 0 && !l.opts.AllowRoot:
			// The group defaults to the user's primary group.
			l.errAt(at("user"), "%s%s", pre, notRoot)
		case p.Group == "" && u.gid < 0 && !l.opts.AllowRoot:
			// A number without a passwd entry has no primary group: php-fpm
			// then keeps gid 0.
			l.errAt(at("user"), "%s%s", pre, notRoot)
		}
		if ok {
			id = &Identity{UID: uint32(u.uid), GID: uint32(max(u.gid, 0)), Groups: []uint32{}, Name: u.name, Home: u.home}
		}
	}
	if p.Group != "" {
		gid, ok := lookupGroup(p.Group)
		switch {
		case !ok:
			l.errAt(at("group"), "%sgroup: unknown group %q", pre, p.Group)
		case gid == 0 && !l.opts.AllowRoot:
			l.errAt(at("group"), "%s%s", pre, notRoot)
		}
		if id != nil {
			id.GID = uint32(gid)
		}
	}
	for _, g := range p.Groups {
		if gid, ok := lookupGroup(g); !ok {
			l.errAt(at("groups"), "%sgroups: unknown group %q", pre, g)
		} else if id != nil {
			id.Groups = append(id.Groups, uint32(gid))
		}
	}
	p.Identity = id
}

// validateUnprivileged refuses the limits a non-root master cannot give its
// workers: rlimits above its own hard limits, a nice value below its own.
func (l *loader) validateUnprivileged(p *Pool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) keyPath { return keyPath{"pool", p.Name, key} }
	var lim unix.Rlimit
	if p.RlimitFiles > 0 && unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && uint64(p.RlimitFiles) > lim.Max {
		l.errAt(at("rlimit_files"), "%srlimit_files (%d) is above the hard limit (%d): raising it needs a root master", pre, p.RlimitFiles, lim.Max)
	}
	if c := p.RlimitCore; c != nil && unix.Getrlimit(unix.RLIMIT_CORE, &lim) == nil && lim.Max != unix.RLIM_INFINITY &&
		(*c < 0 || uint64(*c) > lim.Max) {
		v := strconv.FormatInt(int64(*c), 10)
		if *c < 0 {
			v = "unlimited"
		}
		l.errAt(at("rlimit_core"), "%srlimit_core (%s) is above the hard limit (%d): raising it needs a root master", pre, v, lim.Max)
	}
	if n := p.ProcessPriority; n < 0 {
		l.errAt(at("process_priority"), "%sprocess_priority (%d): a negative nice value needs a root master", pre, n)
	} else if prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0); n > 0 && err == nil && n < 20-prio {
		// The raw system call returns 20 - nice.
		l.errAt(at("process_priority"), "%sprocess_priority (%d) is below the master's nice value (%d): lowering it needs a root master", pre, n, 20-prio)
	}
}

// account is a user resolved from a name or a number.
type account struct {
	uid, gid   int // gid -1: a number without a passwd entry has no primary group
	name, home string
}

// lookupUser resolves a user name or number. A number needs no passwd
// entry (containers); it is then its own name, its home is "/" and its
// primary group is unknown (-1).
func lookupUser(s string) (account, bool) {
	if n, isNum := digits(s); isNum {
		if n > math.MaxInt32 {
			return account{}, false
		}
		a := account{uid: int(n), gid: -1, name: s, home: "/"}
		if u, err := user.LookupId(s); err == nil {
			a.gid, _ = strconv.Atoi(u.Gid)
			a.name, a.home = u.Username, u.HomeDir
		}
		return a, true
	}
	u, err := user.Lookup(s)
	if err != nil {
		return account{}, false
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	return account{uid: uid, gid: gid, name: u.Username, home: u.HomeDir}, err1 == nil && err2 == nil
}

// LookupUser finds a user given by name or by number on the command line
// (`gofpm check --as USER`).
func LookupUser(s string) (*user.User, error) {
	if _, err := strconv.Atoi(s); err == nil {
		return user.LookupId(s)
	}
	return user.Lookup(s)
}

// lookupGroup resolves a group name or number.
func lookupGroup(s string) (gid int, ok bool) {
	if n, isNum := digits(s); isNum {
		return int(n), n <= math.MaxInt32
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, false
	}
	gid, err = strconv.Atoi(g.Gid)
	return gid, err == nil
}
