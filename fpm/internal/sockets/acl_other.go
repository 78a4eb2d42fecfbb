//go:build !linux

package sockets

// Socket ACLs and the allowed-clients filter need Linux (xattrs, socket
// filters); see acl_linux.go and filter_linux.go.

import (
	"errors"
	"net/netip"
	"os"
)

func setACL(string, []aclEntry) error {
	return errors.New("listen_acl_users/listen_acl_groups need Linux")
}

func readACL(string) ([]aclEntry, error) { return nil, nil }
func aclSupported(string) bool           { return false }
func fsName(string) string               { return "unknown filesystem" }

// SetAllowedClients refuses a list here: the filter is a Linux socket
// filter.
func SetAllowedClients(f *os.File, addrs []netip.Addr) error {
	if len(addrs) > 0 {
		return errors.New("listen_allowed_clients needs Linux here (a kernel socket filter)")
	}
	return nil
}
