//go:build !linux

package fpm

// Socket ACLs, the allowed-clients filter and naming the holder of an
// address need Linux (xattrs, socket filters, sock_diag); see
// sockets_linux.go.

import (
	"errors"
	"net/netip"
	"os"
)

func setACL(string, []aclEntry) error {
	return errors.New("listen_acl_users/listen_acl_groups need Linux")
}

func readACL(string) ([]aclEntry, error)          { return nil, nil }
func aclSupported(string) bool                    { return false }
func fsName(string) string                        { return "unknown filesystem" }
func unixHolder(string) (sockHolder, bool)        { return sockHolder{}, false }
func tcpHolder(netip.AddrPort) (sockHolder, bool) { return sockHolder{}, false }

func setAllowedClients(f *os.File, addrs []netip.Addr) error {
	if len(addrs) > 0 {
		return errors.New("listen_allowed_clients needs Linux here (a kernel socket filter)")
	}
	return nil
}
