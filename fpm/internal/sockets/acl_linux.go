package sockets

// Linux parts of the socket ACLs: writing and reading a file's access ACL
// (the system.posix_acl_access attribute), and naming the filesystem that
// takes none.

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setACL writes acl as path's access ACL.
func setACL(path string, acl []aclEntry) error {
	err := unix.Lsetxattr(path, aclXattr, aclEncode(acl), 0)
	if errors.Is(err, unix.ENOTSUP) {
		return errors.New("the filesystem does not support POSIX ACLs")
	}
	return err
}

// readACL returns path's access ACL, nil when it has none.
func readACL(path string) ([]aclEntry, error) {
	buf := make([]byte, 4+8*32)
	for {
		n, err := unix.Lgetxattr(path, aclXattr, buf)
		switch {
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			continue
		case err != nil:
			return nil, err
		}
		return aclDecode(buf[:n])
	}
}

// aclSupported reports whether dir's filesystem takes POSIX ACLs.
func aclSupported(dir string) bool {
	_, err := unix.Lgetxattr(dir, aclXattr, nil)
	return !errors.Is(err, unix.ENOTSUP)
}

// fsName names the filesystem path is on, "TYPE mounted on DIR", from
// /proc/self/mountinfo (the longest mount point that is a prefix of path).
func fsName(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown filesystem"
	}
	defer f.Close()
	best, name := "", "unknown filesystem"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, pfields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(pfields) < 1 {
			continue
		}
		mp := unescapeMount(fields[4])
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, name = mp, pfields[0]+" mounted on "+mp
		}
	}
	return name
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
