package procfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// MaxFDs is how many fds Sockets lists per process at most.
const MaxFDs = 1 << 16

// FDReader reads the socket fds of processes from /proc/PID/fd, reusing its
// buffers between calls. The zero value is ready; it is not safe for
// concurrent use.
type FDReader struct {
	dirents, link []byte
}

func (r *FDReader) init() {
	if r.link == nil {
		r.dirents, r.link = make([]byte, 8<<10), make([]byte, 128)
	}
}

// Socket returns the socket inode open on pid's fd: one readlink.
func (r *FDReader) Socket(pid, fd int) (uint64, bool) {
	r.init()
	n, err := unix.Readlink("/proc/"+strconv.Itoa(pid)+"/fd/"+strconv.Itoa(fd), r.link)
	if err != nil {
		return 0, false
	}
	return socketInode(r.link[:n])
}

// Sockets calls fn, in fd order, for each of pid's fds that is a socket
// (at most MaxFDs fds are looked at). The error wraps os.ErrNotExist when
// the process is gone.
func (r *FDReader) Sockets(pid int, fn func(fd int, ino uint64)) error {
	r.init()
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fdErr(err)
	}
	defer unix.Close(dir)
	count := 0
	for count < MaxFDs {
		n, err := unix.Getdents(dir, r.dirents)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fdErr(err)
		}
		if n <= 0 {
			break
		}
		b := r.dirents[:n]
		for len(b) >= 19 && count < MaxFDs {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return errors.New("bad dirent")
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			fd, ok := atoi(name)
			if !ok {
				continue // "." and ".."
			}
			count++
			ln, err := unix.Readlinkat(dir, string(name), r.link)
			if err != nil {
				continue // closed meanwhile
			}
			if ino, ok := socketInode(r.link[:ln]); ok {
				fn(fd, ino)
			}
		}
		// procfs fills the buffer until it is full or the table ends: a
		// buffer with room for another entry means the end was reached.
		if n < len(r.dirents)-64 {
			break
		}
	}
	return nil
}

// fdErr makes the errors of a process that is gone os.ErrNotExist.
func fdErr(err error) error {
	if err == unix.ENOENT || err == unix.ESRCH {
		return os.ErrNotExist
	}
	return err
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
