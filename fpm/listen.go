package fpm

// This file puts a pool's listen_* settings, as Load resolved them, in the
// terms of the socket set (fpm/internal/sockets), which creates, inherits
// and hands over the sockets.

import (
	"fmt"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/sockets"
)

// socketSpec is the socket at addr (a pool's listen or pm_status_listen)
// with pc's settings; an inherited one is found by address or by name (a
// systemd socket name). Warnings are for the log when the socket is
// created.
func socketSpec(pc *config.Pool, addr config.Addr, name string) (spec sockets.Spec, warnings []string) {
	spec = sockets.Spec{Network: addr.Network, Address: addr.Address, Names: []string{name}, Backlog: pc.ListenBacklog}
	if addr.Network != "unix" {
		spec.AllowedClients = pc.AllowedClients
		return spec, nil
	}
	spec.Perms, warnings = socketPerms(pc)
	return spec, warnings
}

// socketPerms is a pool's listen_mode, listen_owner, listen_group and ACL
// lists. Like php-fpm, ACLs make listen_owner and listen_group be ignored,
// with a warning.
func socketPerms(pc *config.Pool) (p sockets.Perms, warnings []string) {
	p = sockets.Perms{Mode: pc.ListenPerm, UID: -1, GID: -1, ACLUsers: pc.ListenACLUIDs, ACLGroups: pc.ListenACLGIDs}
	if len(p.ACLUsers)+len(p.ACLGroups) > 0 {
		if pc.ListenOwner != "" {
			warnings = append(warnings, fmt.Sprintf("ACL set, listen_owner = %q is ignored", pc.ListenOwner))
		}
		if pc.ListenGroup != "" {
			warnings = append(warnings, fmt.Sprintf("ACL set, listen_group = %q is ignored", pc.ListenGroup))
		}
		return p, warnings
	}
	if pc.ListenOwner != "" {
		p.UID, p.GID = pc.ListenOwnerUID, pc.ListenOwnerGID
	}
	if pc.ListenGroup != "" {
		p.GID = pc.ListenGroupGID
	}
	return p, nil
}
