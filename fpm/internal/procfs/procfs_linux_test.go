package procfs

// Tests on the real /proc of the test process and of children it starts
// (sleep), each killed by pid in t.Cleanup.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/socktest"
	"golang.org/x/sys/unix"
)

// sleeper starts sleep with extra from fd 3.
func sleeper(t *testing.T, extra ...*os.File) int {
	t.Helper()
	return socktest.Start(t, nil, nil, extra, "sleep", "3600")
}

func TestReadStat(t *testing.T) {
	me, err := ReadStat(os.Getpid())
	if err != nil || me.PPID != os.Getppid() {
		t.Fatalf("ReadStat(self) = %+v, %v; want ppid %d", me, err, os.Getppid())
	}
	if c, err := Comm(os.Getpid()); err != nil || c != me.Comm {
		t.Fatalf("Comm(self) = %q, %v; stat says %q", c, err, me.Comm)
	}
	pid := sleeper(t)
	socktest.Eventually(t, 5*time.Second, "sleep asleep", func() (bool, string) {
		st, err := ReadStat(pid)
		return err == nil && st.PPID == os.Getpid() && st.Comm == "sleep" && st.State == 'S', ""
	})
	if c, err := Comm(pid); err != nil || c != "sleep" {
		t.Fatalf("Comm(sleep) = %q, %v", c, err)
	}
	if _, err := ReadStat(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadStat(no such pid) error %v; want ErrNotExist", err)
	}
}

func TestParseStat(t *testing.T) {
	st, err := parseStat([]byte("42 (a) (b c) S 7 42 42 0 -1 4194560 100\n"))
	if err != nil || st != (Stat{Comm: "a) (b c", State: 'S', PPID: 7, Session: 42}) {
		t.Fatalf("parseStat = %+v, %v", st, err)
	}
	for _, bad := range []string{"", "42 (x", "42 (x) S", "42 (x) S x"} {
		if st, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) = %+v; want an error", bad, st)
		}
	}
}

func TestChildren(t *testing.T) {
	a, b := sleeper(t), sleeper(t)
	kids, err := Children(os.Getpid())
	if err != nil || !slices.Contains(kids, a) || !slices.Contains(kids, b) {
		t.Fatalf("Children(self) = %v, %v; want %d and %d among them", kids, err, a, b)
	}
	if kids, err := Children(a); err != nil || len(kids) != 0 {
		t.Fatalf("Children(sleep) = %v, %v; want none", kids, err)
	}
	pids, err := Pids()
	if err != nil || !slices.Contains(pids, a) || !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("Pids() = %d pids, %v; want self and %d", len(pids), err, a)
	}
}

func TestRSS(t *testing.T) {
	if rss, err := RSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Fatalf("RSS(self) = %d, %v; want at least 1 MiB", rss, err)
	}
	if _, err := RSS(1 << 30); err == nil {
		t.Fatal("RSS(no such pid): no error")
	}
}

func TestWchanAndStack(t *testing.T) {
	pid := sleeper(t)
	if w, err := Wchan(pid); err != nil || w == "" {
		t.Fatalf("Wchan(sleep) = %q, %v", w, err)
	}
	// Root may read the stack; it is empty where the kernel hides it.
	if os.Geteuid() == 0 {
		if ks, err := KernelStack(pid); err != nil {
			t.Fatalf("KernelStack(sleep) = %q, %v", ks, err)
		}
	}
}

func TestThreads(t *testing.T) {
	if n, err := Threads(sleeper(t)); err != nil || n != 1 {
		t.Fatalf("Threads(sleep) = %d, %v; want 1", n, err)
	}
	if n, err := Threads(os.Getpid()); err != nil || n < 2 {
		t.Fatalf("Threads(self) = %d, %v; want several", n, err)
	}
}

func TestSyscallFile(t *testing.T) {
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL); cmd.Wait() })
	var f SyscallFile
	defer f.Close()
	buf := make([]byte, 256)
	var s Syscall
	socktest.Eventually(t, 5*time.Second, "sleep blocked in its sleep", func() (bool, string) {
		s = f.Read(pid, buf)
		if s.State == SyscallUnknown && f.refused {
			t.Skip("no ptrace access to /proc/PID/syscall")
		}
		return s.State == SyscallBlocked && (s.NR == unix.SYS_NANOSLEEP || s.NR == unix.SYS_CLOCK_NANOSLEEP), ""
	})
	if !f.open {
		t.Fatal("the file was not kept open")
	}
	if again := f.Read(pid, buf); again != s {
		t.Fatalf("second read %+v; first %+v", again, s)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	cmd.Wait()
	if s := f.Read(pid, buf); s.State != SyscallGone {
		t.Fatalf("Read(reaped pid) = %+v; want gone", s)
	}
	var g SyscallFile
	if s := g.Read(pid, buf); s.State != SyscallGone {
		t.Fatalf("Read(reaped pid), new file = %+v; want gone", s)
	}
}

func TestParseSyscall(t *testing.T) {
	for in, want := range map[string]Syscall{
		"running\n":                            {State: SyscallRunning},
		"-1 0x7ffd1 0x401a\n":                  {State: SyscallBlocked, NR: -1},
		"43 0x3 0x0 0xA 0x0 0x0 0x0 0x7ff 0x4": {State: SyscallBlocked, NR: 43, Args: [6]uint64{3, 0, 10}},
		"43 0x3 zz":                            {},
		"x":                                    {},
		"7 0x1 0x2":                            {},
	} {
		if got := parseSyscall([]byte(in)); got != want {
			t.Errorf("parseSyscall(%q) = %+v; want %+v", in, got, want)
		}
	}
}

func TestFDReader(t *testing.T) {
	a, _ := socktest.SocketPair(t)
	plain, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	cmd := exec.Command("sleep", "3600")
	cmd.ExtraFiles = []*os.File{plain, a}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL); cmd.Wait() })
	var r FDReader
	type fdIno struct {
		fd  int
		ino uint64
	}
	var got []fdIno
	if err := r.Sockets(pid, func(fd int, ino uint64) { got = append(got, fdIno{fd, ino}) }); err != nil {
		t.Fatal(err)
	}
	if want := []fdIno{{4, socktest.FileInode(t, a)}}; !slices.Equal(got, want) {
		t.Fatalf("Sockets(sleep) = %v; want %v", got, want)
	}
	if ino, ok := r.Socket(pid, 4); !ok || ino != socktest.FileInode(t, a) {
		t.Fatalf("Socket(sleep, 4) = %d, %v; want %d", ino, ok, socktest.FileInode(t, a))
	}
	if _, ok := r.Socket(pid, 3); ok {
		t.Fatal("Socket(sleep, 3): a regular file read as a socket")
	}
	if holders := SocketHolders(socktest.FileInode(t, a)); !slices.Contains(holders, pid) || !slices.Contains(holders, os.Getpid()) {
		t.Fatalf("SocketHolders = %v; want %d and %d", holders, pid, os.Getpid())
	}
	syscall.Kill(pid, syscall.SIGKILL)
	cmd.Wait()
	if err := r.Sockets(pid, func(int, uint64) {}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Sockets(reaped pid) error %v; want ErrNotExist", err)
	}
}

// TestFDReaderMany lists more fds than one getdents call returns.
func TestFDReaderMany(t *testing.T) {
	want := map[uint64]bool{}
	for range 600 {
		a, b := socktest.SocketPair(t)
		want[socktest.FileInode(t, a)], want[socktest.FileInode(t, b)] = true, true
	}
	var r FDReader
	n := 0
	err := r.Sockets(os.Getpid(), func(fd int, ino uint64) {
		if want[ino] {
			n++
		}
	})
	if err != nil || n != len(want) {
		t.Fatalf("Sockets(self) found %d of the %d sockets, %v", n, len(want), err)
	}
}
