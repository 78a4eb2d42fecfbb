package fpm

// This file puts a pool's listen_* settings in the terms of the socket set
// (fpm/internal/sockets), which creates, inherits and hands over the
// sockets. The parsing here goes once the configuration holds resolved
// values.

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/gofpm/gofpm/fpm/internal/sockets"
)

// socketSpec is the socket at addr (a pool's listen or pm_status_listen)
// with pc's settings; an inherited one is found by addr or by name (a
// systemd socket name). Warnings are for the log when the socket is
// created.
func socketSpec(pc *PoolConfig, addr, name string) (spec sockets.Spec, warnings []string, err error) {
	spec = sockets.Spec{Network: "tcp", Address: addr, Names: []string{name}, Backlog: pc.ListenBacklog}
	if !isUnixAddr(addr) {
		spec.AllowedClients, err = parseAllowedClients(pc.ListenAllowedClients)
		return spec, nil, err
	}
	spec.Network = "unix"
	spec.Perms, warnings, err = resolveSocketPerms(pc)
	return spec, warnings, err
}

// resolveSocketPerms reads a pool's listen_mode, listen_owner, listen_group
// and ACL lists. Like php-fpm, ACLs make listen_owner and listen_group be
// ignored, with a warning.
func resolveSocketPerms(pc *PoolConfig) (p sockets.Perms, warnings []string, err error) {
	p = sockets.Perms{Mode: 0o660, UID: -1, GID: -1}
	if pc.ListenMode != "" {
		if p.Mode, err = parseMode(pc.ListenMode); err != nil {
			return p, nil, err
		}
	}
	for _, u := range pc.ListenACLUsers {
		uid, _, ok := cfgLookupUser(u)
		if !ok {
			return p, nil, fmt.Errorf("listen_acl_users: unknown user %q", u)
		}
		p.ACLUsers = append(p.ACLUsers, uid)
	}
	for _, g := range pc.ListenACLGroups {
		gid, ok := cfgLookupGroup(g)
		if !ok {
			return p, nil, fmt.Errorf("listen_acl_groups: unknown group %q", g)
		}
		p.ACLGroups = append(p.ACLGroups, gid)
	}
	if len(p.ACLUsers)+len(p.ACLGroups) > 0 {
		if pc.ListenOwner != "" {
			warnings = append(warnings, fmt.Sprintf("ACL set, listen_owner = %q is ignored", pc.ListenOwner))
		}
		if pc.ListenGroup != "" {
			warnings = append(warnings, fmt.Sprintf("ACL set, listen_group = %q is ignored", pc.ListenGroup))
		}
		return p, warnings, nil
	}
	if pc.ListenOwner != "" {
		uid, gid, ok := cfgLookupUser(pc.ListenOwner)
		if !ok {
			return p, nil, fmt.Errorf("listen_owner: unknown user %q", pc.ListenOwner)
		}
		p.UID, p.GID = uid, gid
	}
	if pc.ListenGroup != "" {
		gid, ok := cfgLookupGroup(pc.ListenGroup)
		if !ok {
			return p, nil, fmt.Errorf("listen_group: unknown group %q", pc.ListenGroup)
		}
		p.GID = gid
	}
	return p, nil, nil
}

// parseAllowedClients parses listen_allowed_clients.
func parseAllowedClients(list []string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, s := range list {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("listen_allowed_clients: %q is not an IP address", s)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// parseMode parses an octal listen_mode such as "0660".
func parseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("listen_mode %q is not an octal mode such as \"0660\"", s)
	}
	return os.FileMode(m), nil
}
