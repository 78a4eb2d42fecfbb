package sockets

// POSIX access ACLs for the pools' Unix sockets (listen_acl_users,
// listen_acl_groups), in the form Linux stores them: the extended attribute
// system.posix_acl_access. Writing the attribute ourselves avoids libacl.
//
// The attribute is a little-endian u32 version (2) followed by 8-byte
// entries {tag u16, perm u16, id u32}, sorted by tag then id, one USER_OBJ,
// GROUP_OBJ and OTHER, and a MASK whenever there are named entries. The
// kernel checks all of that (posix_acl_valid) and sets the group bits of
// the file's mode to the MASK.
//
// The same entries, read back from a directory, drive the access decision
// of `gofpm check --as` (fileAccess.allows, access.go).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
)

const (
	aclXattr       = "system.posix_acl_access"
	aclVersion     = 2
	aclUndefinedID = ^uint32(0)

	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20

	aclRead  = 4
	aclWrite = 2
	aclExec  = 1
)

// aclEntry is one ACL entry; id is a uid or gid for aclUser and aclGroup.
type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// socketACL is the access ACL php-fpm gives a socket with listen.acl_users
// or listen.acl_groups: the entries the mode implies, plus read and write
// for each named user and group, and the mask that covers them all.
func socketACL(mode os.FileMode, users, groups []uint32) []aclEntry {
	m := uint16(mode.Perm())
	acl := []aclEntry{
		{aclUserObj, m >> 6 & 7, aclUndefinedID},
		{aclGroupObj, m >> 3 & 7, aclUndefinedID},
		{aclOther, m & 7, aclUndefinedID},
	}
	mask := m >> 3 & 7
	for _, u := range users {
		acl = append(acl, aclEntry{aclUser, aclRead | aclWrite, u})
		mask |= aclRead | aclWrite
	}
	for _, g := range groups {
		acl = append(acl, aclEntry{aclGroup, aclRead | aclWrite, g})
		mask |= aclRead | aclWrite
	}
	if len(users)+len(groups) > 0 {
		acl = append(acl, aclEntry{aclMask, mask, aclUndefinedID})
	}
	return aclNormalize(acl)
}

// aclNormalize sorts entries by tag then id and drops repeated named
// entries (the kernel refuses duplicates).
func aclNormalize(acl []aclEntry) []aclEntry {
	acl = slices.Clone(acl)
	slices.SortFunc(acl, func(a, b aclEntry) int {
		if a.tag != b.tag {
			return int(a.tag) - int(b.tag)
		}
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(acl, func(a, b aclEntry) bool { return a.tag == b.tag && a.id == b.id })
}

// aclEncode renders acl as the value of system.posix_acl_access.
func aclEncode(acl []aclEntry) []byte {
	b := make([]byte, 4, 4+8*len(acl))
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range acl {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// aclDecode parses a system.posix_acl_access value.
func aclDecode(b []byte) ([]aclEntry, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 {
		return nil, fmt.Errorf("ACL attribute of %d bytes", len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != aclVersion {
		return nil, fmt.Errorf("ACL attribute version %d", v)
	}
	var acl []aclEntry
	for b = b[4:]; len(b) >= 8; b = b[8:] {
		acl = append(acl, aclEntry{
			tag:  binary.LittleEndian.Uint16(b[0:]),
			perm: binary.LittleEndian.Uint16(b[2:]),
			id:   binary.LittleEndian.Uint32(b[4:]),
		})
	}
	if len(acl) == 0 {
		return nil, errors.New("empty ACL attribute")
	}
	return acl, nil
}

// fileAccess is what decides who may do what with a file: owner, group,
// permission bits and, when it has one, its access ACL.
type fileAccess struct {
	uid, gid uint32
	mode     os.FileMode
	acl      []aclEntry // nil: none
}

// allows reports whether a process with uid and groups (primary and
// supplementary gids) gets every bit of want (aclRead|aclWrite|aclExec)
// on f, by the POSIX ACL algorithm (acl(7) "Access check algorithm"),
// which without an ACL is the classic owner/group/other rule. uid 0 is
// allowed everything except executing a file without any x bit; for the
// uses here (write on a socket, search on a directory) that is everything.
func (f fileAccess) allows(uid uint32, groups []uint32, want uint16) bool {
	if uid == 0 {
		return true
	}
	m := uint16(f.mode.Perm())
	acl := f.acl
	if acl == nil {
		acl = []aclEntry{
			{aclUserObj, m >> 6 & 7, aclUndefinedID},
			{aclGroupObj, m >> 3 & 7, aclUndefinedID},
			{aclOther, m & 7, aclUndefinedID},
		}
	}
	mask := uint16(7)
	var userObj, other uint16
	for _, e := range acl {
		switch e.tag {
		case aclMask:
			mask = e.perm
		case aclUserObj:
			userObj = e.perm
		case aclOther:
			other = e.perm
		}
	}
	if uid == f.uid {
		return userObj&want == want
	}
	for _, e := range acl {
		if e.tag == aclUser && e.id == uid {
			return e.perm&mask&want == want
		}
	}
	matched := false
	for _, e := range acl {
		var in bool
		switch e.tag {
		case aclGroupObj:
			in = slices.Contains(groups, f.gid)
		case aclGroup:
			in = slices.Contains(groups, e.id)
		}
		if !in {
			continue
		}
		matched = true
		if e.perm&mask&want == want {
			return true
		}
	}
	if matched {
		return false
	}
	return other&want == want
}
