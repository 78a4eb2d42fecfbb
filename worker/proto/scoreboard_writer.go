package proto

// This file is the worker's side of the scoreboard slot (scoreboard.go
// describes the slot and its seqlock): attaching to the slot the master
// passed, and the updates a worker makes at each stage of a request.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	stdfcgi "net/http/fcgi"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SlotWriter is the worker's side of its slot. A nil *SlotWriter (no
// slot: standalone, or not a gofpm master) makes every method a no-op.
//
// Several goroutines may write (worker concurrency above 1): the seqlock's
// odd state doubles as the writers' lock. All writer state lives in the
// slot, under that lock, so the writer has no Go-side mutable state.
//
// The methods read the clock themselves: one monotonic reading each
// (time.Since, a vDSO call), half the cost of time.Now, which reads the
// wall clock too. Wall-clock times are the worker's start time plus the
// monotonic time since, so they do not follow a step of the system clock
// made after the worker started.
type SlotWriter struct {
	mem        []byte
	base       unsafe.Pointer
	origin     time.Time // monotonic origin
	originWall int64     // origin, Unix ns
	cpu        bool      // measure CPU per request
}

// AttachSlot attaches to the slot the master passed on the fd named by
// EnvScoreboardFD, and unsets that variable. It returns nil, nil when the
// variable is not set. On an error the worker should go on without a slot.
func AttachSlot() (*SlotWriter, error) {
	v := os.Getenv(EnvScoreboardFD)
	if v == "" {
		return nil, nil
	}
	os.Unsetenv(EnvScoreboardFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("worker: %s=%q is not a file descriptor", EnvScoreboardFD, v)
	}
	return attachSlotFD(fd)
}

var errNotSlot = errors.New("not a gofpm scoreboard slot")

// attachSlotFD maps the slot open on fd, checks its header, and closes fd
// (the mapping stays; the fd must not leak into processes the worker
// starts). When fd is not a slot it is left open and an error returned.
// CPU accounting is on only when EnvRequestCPU is "1".
func attachSlotFD(fd int) (*SlotWriter, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("worker: scoreboard fd %d: %w", fd, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < SlotSize {
		return nil, fmt.Errorf("worker: scoreboard fd %d: %w", fd, errNotSlot)
	}
	mem, err := unix.Mmap(fd, 0, SlotSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("worker: scoreboard fd %d: %w", fd, os.NewSyscallError("mmap", err))
	}
	if m := atomic.LoadUint64(word(mem, offMagic)); m != slotMagic|slotVersion<<32 {
		unix.Munmap(mem)
		if uint32(m) == slotMagic {
			return nil, fmt.Errorf("worker: scoreboard fd %d: slot layout version %d, this worker knows %d", fd, m>>32, slotVersion)
		}
		return nil, fmt.Errorf("worker: scoreboard fd %d: %w", fd, errNotSlot)
	}
	unix.Close(fd)
	now := time.Now()
	w := &SlotWriter{
		mem:        mem,
		base:       unsafe.Pointer(unsafe.SliceData(mem)),
		origin:     now,
		originWall: now.UnixNano(),
		cpu:        os.Getenv(EnvRequestCPU) == "1",
	}
	mark := int64(-1)
	if w.cpu {
		mark = processCPU()
	}
	s := w.lock()
	if mark >= 0 {
		w.store(offLastCPU, 0)
		w.store(offCPUMark, mark)
	} else {
		w.cpu = false
		w.store(offLastCPU, -1)
	}
	w.store(offAttached, slotVersion|int64(os.Getpid())<<32)
	w.unlock(s)
	return w, nil
}

// processCPU returns the user+system CPU time of the process in ns, -1 on
// error. getrusage is a raw (non-blocking) system call in x/sys/unix.
func processCPU() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// clock returns the monotonic time since the writer's origin.
func (w *SlotWriter) clock() int64 { return int64(time.Since(w.origin)) }

// tso: the CPU makes stores visible in program order (x86, s390x), so the
// stores inside the seqlock can be plain ones: none becomes visible before
// the odd sequence value, and all are visible before the even one. Other
// CPUs get an atomic (release) store for every word, strings included.
// The reader always uses atomic loads.
const tso = runtime.GOARCH == "amd64" || runtime.GOARCH == "386" || runtime.GOARCH == "s390x"

func (w *SlotWriter) p(off uintptr) *uint64 { return (*uint64)(unsafe.Add(w.base, off)) }

// load reads a field; only writers holding the lock change fields.
func (w *SlotWriter) load(off uintptr) int64 {
	if tso {
		return int64(*w.p(off))
	}
	return int64(atomic.LoadUint64(w.p(off)))
}

// store writes a field; the writer must hold the lock.
func (w *SlotWriter) store(off uintptr, v int64) {
	if tso {
		*w.p(off) = uint64(v)
	} else {
		atomic.StoreUint64(w.p(off), uint64(v))
	}
}

// lock makes the sequence odd, waiting while another goroutine of this
// worker holds it (an update takes nanoseconds). It returns the odd value.
func (w *SlotWriter) lock() uint64 {
	seq := w.p(offSeq)
	for i := 0; ; i++ {
		s := atomic.LoadUint64(seq)
		if s&1 == 0 && atomic.CompareAndSwapUint64(seq, s, s+1) {
			return s + 1
		}
		if i >= 8 {
			runtime.Gosched() // the holder may have been preempted on our P
		}
	}
}

// unlock publishes the update: the sequence becomes even again. With tso
// a plain store is a release store already (and the compiler does not
// move stores across one another or across the CAS in lock).
func (w *SlotWriter) unlock(s uint64) {
	if tso {
		*w.p(offSeq) = s + 1
	} else {
		atomic.StoreUint64(w.p(offSeq), s+1)
	}
}

// putString copies s into the field at off, cut to size bytes at a UTF-8
// boundary, and returns the length written.
func (w *SlotWriter) putString(off, size int, s string) uint64 {
	n := len(s)
	if n > size {
		n = size
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
	}
	if tso {
		copy(w.mem[off:off+n], s[:n])
	} else {
		w.putWords(off, s[:n])
	}
	return uint64(n)
}

// putWords copies s to off with one atomic store per 8-byte word.
func (w *SlotWriter) putWords(off int, s string) {
	for i := 0; i < len(s); i += 8 {
		var b [8]byte
		copy(b[:], s[i:])
		atomic.StoreUint64(w.p(uintptr(off+i)), binary.NativeEndian.Uint64(b[:]))
	}
}

// Accepted: the first byte of a request arrived on a connection.
func (w *SlotWriter) Accepted() {
	if w != nil {
		w.acceptedAt(w.clock())
	}
}

func (w *SlotWriter) acceptedAt(mono int64) {
	s := w.lock()
	w.store(offInFlight, w.load(offInFlight)+1)
	w.store(offStage, int64(StageReadingHeaders))
	w.store(offAccepted, w.originWall+mono)
	w.store(offAcceptedMono, mono)
	w.store(offRequestStart, 0)
	w.store(offContentLen, 0)
	w.store(offLens, 0)
	w.unlock(s)
}

// RequestStart: the handler is about to run r.
//
// The script is SCRIPT_FILENAME from stdfcgi.ProcessEnv, which returns the map
// net/http/fcgi already built for the request (no allocation); it is empty
// for requests that did not come through net/http/fcgi.
//
// The start time is the accept time: the params of a request arrive with
// it, microseconds apart, and a clock read costs about a third of the
// slot's bookkeeping on a VM. (With worker_concurrency > 1 it is the time
// of the latest accept.)
func (w *SlotWriter) RequestStart(r *http.Request) {
	if w != nil {
		w.requestStartAt(r, w.load(offAcceptedMono))
	}
}

func (w *SlotWriter) requestStartAt(r *http.Request, mono int64) {
	script := stdfcgi.ProcessEnv(r)["SCRIPT_FILENAME"]
	var path, query string
	if r.URL != nil {
		path, query = r.URL.Path, r.URL.RawQuery
	}
	s := w.lock()
	w.store(offStage, int64(StageRunning))
	w.store(offRequestStart, w.originWall+mono)
	w.store(offContentLen, max(r.ContentLength, 0))
	l := w.putString(offMethod, sizeMethod, r.Method) |
		w.putString(offURI, sizeURI, path)<<16 |
		w.putString(offQuery, sizeQuery, query)<<32 |
		w.putString(offScript, sizeScript, script)<<48
	w.store(offLens, int64(l))
	w.unlock(s)
}

// RequestEnd: the request ended (FCGI_END_REQUEST written, or its
// connection closed before). With CPU accounting on it makes the one
// getrusage call of the request.
func (w *SlotWriter) RequestEnd() {
	if w != nil {
		w.requestEndAt(w.clock())
	}
}

func (w *SlotWriter) requestEndAt(mono int64) {
	cpu := int64(-1)
	if w.cpu {
		cpu = processCPU()
	}
	s := w.lock()
	n := max(w.load(offInFlight)-1, 0)
	w.store(offInFlight, n)
	w.store(offRequests, w.load(offRequests)+1)
	d := max(mono-w.load(offAcceptedMono), 0)
	w.store(offLastDuration, d)
	w.observe(d)
	if cpu >= 0 {
		// Another goroutine's later measurement may have been stored first.
		mark := w.load(offCPUMark)
		w.store(offLastCPU, max(cpu-mark, 0))
		w.store(offCPUMark, max(cpu, mark))
	}
	if n == 0 {
		w.store(offStage, int64(StageFinishing))
	} else {
		w.store(offStage, int64(StageRunning)) // others are in flight
	}
	w.unlock(s)
}

// Idle: the worker waits for a connection. It leaves the stage alone while
// another request is in flight, and writes Ending instead once the worker
// is stopping.
func (w *SlotWriter) Idle() {
	if w == nil || Stage(atomic.LoadUint64(w.p(offStage))) == StageIdle {
		return // (only this worker writes the slot)
	}
	s := w.lock()
	if w.load(offInFlight) == 0 {
		if w.load(offExit) != int64(ExitNone) {
			w.store(offStage, int64(StageEnding))
		} else {
			w.store(offStage, int64(StageIdle))
		}
	}
	w.unlock(s)
}

// Ending: the worker decided to stop. It records the first reason given
// (ExitNone records none) and sets the stage to Ending unless a request is
// in flight; then the next Idle does.
func (w *SlotWriter) Ending(reason ExitReason) {
	if w == nil {
		return
	}
	s := w.lock()
	if reason != ExitNone && w.load(offExit) == int64(ExitNone) {
		w.store(offExit, int64(reason))
	}
	if w.load(offInFlight) == 0 {
		w.store(offStage, int64(StageEnding))
	}
	w.unlock(s)
}

// PutStack writes text (cut to the area) as the latest stack.
func (w *SlotWriter) PutStack(text []byte) {
	if w == nil {
		return
	}
	n := copy(w.mem[offStack:offStack+sizeStack], text)
	atomic.StoreUint64(w.p(offStackLen), uint64(n))
	atomic.AddUint64(w.p(offStackSeq), 1)
}

// observe counts one request of d nanoseconds.
func (w *SlotWriter) observe(d int64) {
	i := 0
	for i < len(DurationBuckets) && d > int64(DurationBuckets[i]) {
		i++
	}
	atomic.AddUint64(w.p(uintptr(offHist+8*i)), 1)
	atomic.AddUint64(w.p(uintptr(offHist+8*(histWords-1))), uint64(d))
}
