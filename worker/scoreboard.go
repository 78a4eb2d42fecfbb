package worker

// This file is the per-worker scoreboard slot: a page of shared memory in
// which a Go worker publishes its request stage and the fields of its
// current or last request, and which the master reads, like php-fpm's
// struct fpm_scoreboard_proc_s.
//
// The master creates one slot per worker process (NewSlotFile), maps it and
// hands the file to the worker as fd ScoreboardFD with EnvScoreboardFD set.
// The worker maps it too (attachSlot) and writes it at each stage change
// (slotWriter). Writes are a seqlock: the writer makes the sequence word odd,
// writes the fields, makes it even again; a reader copies the fields between
// two reads of the sequence word and retries unless both are the same even
// value. So the writer never waits for the master, and the master never sees
// a mix of two requests' fields.
//
// A worker-side update is one compare-and-swap, a monotonic clock reading
// (vDSO) and a few stores into the mapped page: no system call and no
// allocation (BenchmarkSlotRequest). The one exception is the CPU
// accounting (EnvRequestCPU), one getrusage per request.
//
// The slot is written by the worker's code, so the master treats what it
// reads as untrusted: lengths are bounded, but strings may hold any bytes
// and must be escaped when rendered. On Linux the memfd is sealed, so a
// worker cannot shrink it to make the master's reads fault.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/fcgi"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ScoreboardFD is the file descriptor of the worker's scoreboard slot in a
// worker started by a gofpm master (os/exec ExtraFiles[0]).
const ScoreboardFD = 3

// EnvScoreboardFD names the environment variable that tells a worker its
// scoreboard slot is open on that fd. A worker without it runs without a
// slot. The worker unsets it once it has attached, so that processes it
// starts do not take an unrelated fd 3 for a slot.
const EnvScoreboardFD = "GOFPM_SCOREBOARD_FD"

// EnvRequestCPU set to "1" turns on the per-request CPU accounting of a Go
// worker: one getrusage system call at the end of each request, about
// 1.6 µs on the 2-core VM it was measured on, ten times the cost of the
// rest of the slot's bookkeeping; so it is off otherwise.
const EnvRequestCPU = "GOFPM_REQUEST_CPU"

// SlotSize is the size of a scoreboard slot in bytes: four pages, most of
// them for the stack of a slow request.
const SlotSize = 16384

// Stage is a worker's request stage. The values are php-fpm's (enum
// fpm_request_stage_e in fpm_request.h); 0 means the worker has not
// written a stage yet.
type Stage uint32

const (
	// StageStarting: the worker has not written a stage yet (it is still
	// starting, or it is not a Go worker and never will).
	StageStarting Stage = 0
	// StageIdle: waiting for a connection (php-fpm's ACCEPTING).
	StageIdle Stage = 1
	// StageReadingHeaders: a connection sent the first byte of a request
	// and its params are being read.
	StageReadingHeaders Stage = 2
	// Value 3, php-fpm's "Getting request information", is not used: a Go
	// worker goes from reading the params straight to the handler.

	// StageRunning: the handler runs.
	StageRunning Stage = 4
	// StageEnding: the worker is stopping (graceful stop or max requests)
	// and has no request in flight.
	StageEnding Stage = 5
	// StageFinishing: the request has ended (FCGI_END_REQUEST written or
	// the connection closed) and the connection is still open.
	StageFinishing Stage = 6
)

// String returns the stage name as php-fpm's status page prints it.
func (s Stage) String() string {
	switch s {
	case StageStarting:
		return "Starting"
	case StageIdle:
		return "Idle"
	case StageReadingHeaders:
		return "Reading headers"
	case 3:
		return "Getting request information"
	case StageRunning:
		return "Running"
	case StageEnding:
		return "Ending"
	case StageFinishing:
		return "Finishing"
	}
	return "Stage(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// ExitReason says why a worker is stopping on its own.
type ExitReason uint32

const (
	ExitNone        ExitReason = 0 // not stopping (or killed without warning)
	ExitMaxRequests ExitReason = 1 // GOFPM_MAX_REQUESTS reached
	ExitSignal      ExitReason = 2 // graceful stop asked (SIGQUIT)
)

func (r ExitReason) String() string {
	switch r {
	case ExitNone:
		return "none"
	case ExitMaxRequests:
		return "max requests"
	case ExitSignal:
		return "signal"
	}
	return "ExitReason(" + strconv.FormatUint(uint64(r), 10) + ")"
}

// Slot layout. Every word is 8 bytes, native byte order, at an 8-byte
// aligned offset. The master writes the magic word once; everything else is
// written by the worker under the seqlock. Fields are only ever added in
// the reserved space; any other change increments slotVersion, and a worker
// refuses a slot whose version it does not know.
const (
	slotMagic   = 0x42536667 // "gfSB" as bytes on a little-endian CPU
	slotVersion = 3

	offSeq          = 0   // seqlock sequence: odd while the worker writes
	offMagic        = 8   // master: slotMagic | slotVersion<<32
	offAttached     = 16  // worker: slotVersion | pid<<32; 0 = not attached
	offStage        = 24  // Stage
	offExit         = 32  // ExitReason
	offInFlight     = 40  // requests between accepted and requestEnd
	offAccepted     = 48  // wall clock, Unix ns
	offAcceptedMono = 56  // worker-private: monotonic ns since the worker's origin
	offRequestStart = 64  // wall clock, Unix ns; 0 = not started
	offRequests     = 72  // requests ended
	offContentLen   = 80  // CONTENT_LENGTH of the current or last request
	offLastDuration = 88  // ns, accepted → end of the last request
	offLastCPU      = 96  // ns of process CPU over the last request; -1 = not measured
	offCPUMark      = 104 // worker-private: process CPU ns at the last measurement
	offLens         = 112 // string lengths: method | uri<<16 | query<<32 | script<<48
	// 120..127 reserved

	offMethod  = 128
	sizeMethod = 16
	offURI     = offMethod + sizeMethod
	sizeURI    = 1024
	offQuery   = offURI + sizeURI
	sizeQuery  = 1024
	offScript  = offQuery + sizeQuery
	sizeScript = 1024
	offStrEnd  = offScript + sizeScript // 3216

	// The stack of the goroutine serving a slow request, written by the
	// worker when the master sends StackSignal (outside the seqlock: the
	// worker writes the text, then its length, then bumps the sequence).
	// Request durations as a histogram: one counter per bucket of
	// DurationBuckets plus +Inf, then the sum in ns. Written with atomic
	// adds outside the seqlock (each counter only grows).
	offHist     = offStrEnd
	histWords   = 13 // len(DurationBuckets) + 2, checked below
	offStackSeq = offHist + 8*histWords
	offStackLen = offStackSeq + 8
	offStack    = offStackLen + 8
	sizeStack   = SlotSize - offStack

	hdrWords = offMethod / 8
	strWords = (offStrEnd - offMethod) / 8
)

// The layout must fit in the slot.
var _ [SlotSize - offStack - 4096]struct{} // room for a useful stack

// SlotSnapshot is a consistent copy of a worker's slot.
type SlotSnapshot struct {
	// Written: a worker has attached to the slot (so it is a Go worker
	// using this package). Everything else is zero while it is false.
	Written bool
	// Torn: the reader gave up waiting for a consistent copy (the worker
	// was writing at every attempt, or died while writing); the fields may
	// mix two updates. Rare; skip the slot for this tick, as php-fpm does
	// with "failed to acquire scoreboard".
	Torn bool
	// PID of the worker that attached.
	PID int

	Stage Stage
	// InFlight counts the requests between their first byte and their end
	// (at most the worker concurrency).
	InFlight int

	// Accepted is when the current or last request sent its first byte
	// (php-fpm's accepted_epoch). Zero before the first request.
	Accepted time.Time
	// RequestStart is when the handler started; zero while the current
	// request is still reading headers.
	RequestStart time.Time

	// Requests counts the requests that have ended (answered, or their
	// connection closed). php-fpm's "requests" counts requests begun:
	// Requests + InFlight.
	Requests uint64

	// Of the current or last request, cleared when a request's first byte
	// arrives and filled when its handler starts; cut to the slot's field
	// sizes (Method 16, URI, Query and Script 1024 bytes).
	Method string
	URI    string // the request path (r.URL.Path)
	Query  string // the raw query string, without '?'
	Script string // SCRIPT_FILENAME, when the web server sent it
	// ContentLength is CONTENT_LENGTH (0 when unknown).
	ContentLength int64

	// LastDuration is the time from the first byte to the end of the last
	// request that ended (php-fpm's request duration for an idle worker).
	LastDuration time.Duration
	// LastCPU is the process CPU time (user+system) used since the previous
	// request ended, measured when the last request ended; it includes what
	// the runtime did between requests and, with a worker concurrency above
	// 1, what overlapping requests used. php-fpm's "last request cpu" is
	// LastCPU / LastDuration × 100. Valid only when CPUMeasured.
	LastCPU     time.Duration
	CPUMeasured bool

	// ExitReason is set when the worker decided to stop.
	ExitReason ExitReason
}

// Slot is the master's mapping of one worker's scoreboard slot.
type Slot struct {
	mu  sync.RWMutex
	mem []byte // nil once closed
}

// newSlot maps fd and writes the header, for NewSlotFile.
func newSlot(fd int) (*Slot, error) {
	mem, err := unix.Mmap(fd, 0, SlotSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	atomic.StoreUint64(word(mem, offMagic), slotMagic|slotVersion<<32)
	return &Slot{mem: mem}, nil
}

// Close unmaps the slot. Read returns a zero SlotSnapshot after Close.
func (s *Slot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem == nil {
		return nil
	}
	err := unix.Munmap(s.mem)
	s.mem = nil
	return err
}

// Stage returns the worker's current stage with a single load, without
// the seqlock (what php-fpm does to count idle and active workers).
func (s *Slot) Stage() Stage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mem == nil {
		return StageStarting
	}
	return Stage(atomic.LoadUint64(word(s.mem, offStage)))
}

// readTries bounds how often Read copies the slot before it gives up and
// returns a copy marked Torn.
const readTries = 100

// Read returns a consistent copy of the slot. It allocates only the returned
// strings. It is safe to call from several goroutines, and concurrently
// with Close.
func (s *Slot) Read() SlotSnapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mem == nil {
		return SlotSnapshot{}
	}
	var (
		hdr  [hdrWords]uint64
		str  [strWords]uint64
		lens [4]int
		torn = true
	)
	fields := [4]struct{ off, size int }{
		{offMethod, sizeMethod}, {offURI, sizeURI}, {offQuery, sizeQuery}, {offScript, sizeScript},
	}
	seq := word(s.mem, offSeq)
	for try := 0; try < readTries; try++ {
		if try > 10 {
			runtime.Gosched()
		}
		s1 := atomic.LoadUint64(seq)
		if s1&1 != 0 && try < readTries-1 {
			continue // mid-update; copy anyway on the last try
		}
		for i := range hdr {
			hdr[i] = atomic.LoadUint64(word(s.mem, uintptr(i*8)))
		}
		l := hdr[offLens/8]
		for i, f := range fields {
			n := min(int(uint16(l>>(16*i))), f.size)
			lens[i] = n
			first := (f.off - offMethod) / 8
			for j := 0; j < (n+7)/8; j++ {
				str[first+j] = atomic.LoadUint64(word(s.mem, uintptr(f.off+j*8)))
			}
		}
		if s1&1 == 0 && atomic.LoadUint64(seq) == s1 {
			torn = false
			break
		}
	}
	attached := hdr[offAttached/8]
	if attached == 0 {
		return SlotSnapshot{Torn: torn}
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&str[0])), len(str)*8)
	text := func(i int) string {
		o := fields[i].off - offMethod
		return string(b[o : o+lens[i]])
	}
	snap := SlotSnapshot{
		Written:       true,
		Torn:          torn,
		PID:           int(attached >> 32),
		Stage:         Stage(hdr[offStage/8]),
		InFlight:      int(hdr[offInFlight/8]),
		Accepted:      unixTime(hdr[offAccepted/8]),
		RequestStart:  unixTime(hdr[offRequestStart/8]),
		Requests:      hdr[offRequests/8],
		Method:        text(0),
		URI:           text(1),
		Query:         text(2),
		Script:        text(3),
		ContentLength: int64(hdr[offContentLen/8]),
		LastDuration:  time.Duration(hdr[offLastDuration/8]),
		ExitReason:    ExitReason(hdr[offExit/8]),
	}
	if cpu := int64(hdr[offLastCPU/8]); cpu >= 0 {
		snap.LastCPU, snap.CPUMeasured = time.Duration(cpu), true
	}
	return snap
}

func unixTime(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}

// word returns the 8-byte word at off in a mapped slot.
func word(mem []byte, off uintptr) *uint64 {
	return (*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(mem)), off))
}

// slotWriter is the worker's side of its slot. A nil *slotWriter (no
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
type slotWriter struct {
	mem        []byte
	base       unsafe.Pointer
	origin     time.Time // monotonic origin
	originWall int64     // origin, Unix ns
	cpu        bool      // measure CPU per request
}

// attachSlot attaches to the slot the master passed on the fd named by
// EnvScoreboardFD, and unsets that variable. It returns nil, nil when the
// variable is not set. On an error the worker should go on without a slot.
func attachSlot() (*slotWriter, error) {
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
func attachSlotFD(fd int) (*slotWriter, error) {
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
	w := &slotWriter{
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
func (w *slotWriter) clock() int64 { return int64(time.Since(w.origin)) }

// tso: the CPU makes stores visible in program order (x86, s390x), so the
// stores inside the seqlock can be plain ones: none becomes visible before
// the odd sequence value, and all are visible before the even one. Other
// CPUs get an atomic (release) store for every word, strings included.
// The reader always uses atomic loads.
const tso = runtime.GOARCH == "amd64" || runtime.GOARCH == "386" || runtime.GOARCH == "s390x"

func (w *slotWriter) p(off uintptr) *uint64 { return (*uint64)(unsafe.Add(w.base, off)) }

// load reads a field; only writers holding the lock change fields.
func (w *slotWriter) load(off uintptr) int64 {
	if tso {
		return int64(*w.p(off))
	}
	return int64(atomic.LoadUint64(w.p(off)))
}

// store writes a field; the writer must hold the lock.
func (w *slotWriter) store(off uintptr, v int64) {
	if tso {
		*w.p(off) = uint64(v)
	} else {
		atomic.StoreUint64(w.p(off), uint64(v))
	}
}

// lock makes the sequence odd, waiting while another goroutine of this
// worker holds it (an update takes nanoseconds). It returns the odd value.
func (w *slotWriter) lock() uint64 {
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
func (w *slotWriter) unlock(s uint64) {
	if tso {
		*w.p(offSeq) = s + 1
	} else {
		atomic.StoreUint64(w.p(offSeq), s+1)
	}
}

// putString copies s into the field at off, cut to size bytes at a UTF-8
// boundary, and returns the length written.
func (w *slotWriter) putString(off, size int, s string) uint64 {
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
func (w *slotWriter) putWords(off int, s string) {
	for i := 0; i < len(s); i += 8 {
		var b [8]byte
		copy(b[:], s[i:])
		atomic.StoreUint64(w.p(uintptr(off+i)), binary.NativeEndian.Uint64(b[:]))
	}
}

// accepted: the first byte of a request arrived on a connection.
func (w *slotWriter) accepted() {
	if w != nil {
		w.acceptedAt(w.clock())
	}
}

func (w *slotWriter) acceptedAt(mono int64) {
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

// requestStart: the handler is about to run r.
//
// The script is SCRIPT_FILENAME from fcgi.ProcessEnv, which returns the map
// net/http/fcgi already built for the request (no allocation); it is empty
// for requests that did not come through net/http/fcgi.
//
// The start time is the accept time: the params of a request arrive with
// it, microseconds apart, and a clock read costs about a third of the
// slot's bookkeeping on a VM. (With worker_concurrency > 1 it is the time
// of the latest accept.)
func (w *slotWriter) requestStart(r *http.Request) {
	if w != nil {
		w.requestStartAt(r, w.load(offAcceptedMono))
	}
}

func (w *slotWriter) requestStartAt(r *http.Request, mono int64) {
	script := fcgi.ProcessEnv(r)["SCRIPT_FILENAME"]
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

// requestEnd: the request ended (FCGI_END_REQUEST written, or its
// connection closed before). With CPU accounting on it makes the one
// getrusage call of the request.
func (w *slotWriter) requestEnd() {
	if w != nil {
		w.requestEndAt(w.clock())
	}
}

func (w *slotWriter) requestEndAt(mono int64) {
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

// idle: the worker waits for a connection. It leaves the stage alone while
// another request is in flight, and writes Ending instead once the worker
// is stopping.
func (w *slotWriter) idle() {
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

// ending: the worker decided to stop. It records the first reason given
// (ExitNone records none) and sets the stage to Ending unless a request is
// in flight; then the next idle does.
func (w *slotWriter) ending(reason ExitReason) {
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

// StackSeq returns a number that changes each time the worker wrote a new
// stack into the slot (see StackSignal).
func (s *Slot) StackSeq() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mem == nil {
		return 0
	}
	return atomic.LoadUint64(word(s.mem, offStackSeq))
}

// Stack returns the stack text the worker last wrote. The worker's bytes
// are untrusted: the length is clamped to the area.
func (s *Slot) Stack() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mem == nil {
		return ""
	}
	n := min(atomic.LoadUint64(word(s.mem, offStackLen)), uint64(sizeStack))
	return string(s.mem[offStack : offStack+int(n)])
}

// putStack writes text (cut to the area) as the latest stack.
func (w *slotWriter) putStack(text []byte) {
	if w == nil {
		return
	}
	n := copy(w.mem[offStack:offStack+sizeStack], text)
	atomic.StoreUint64(w.p(offStackLen), uint64(n))
	atomic.AddUint64(w.p(offStackSeq), 1)
}

// DurationBuckets are the upper bounds of the request-duration histogram a
// worker keeps in its slot (Prometheus' "le"); a last bucket, +Inf, follows.
var DurationBuckets = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

var _ [histWords - len(DurationBuckets) - 2]struct{}
var _ [len(DurationBuckets) + 2 - histWords]struct{}

// observe counts one request of d nanoseconds.
func (w *slotWriter) observe(d int64) {
	i := 0
	for i < len(DurationBuckets) && d > int64(DurationBuckets[i]) {
		i++
	}
	atomic.AddUint64(w.p(uintptr(offHist+8*i)), 1)
	atomic.AddUint64(w.p(uintptr(offHist+8*(histWords-1))), uint64(d))
}

// Histogram is a request-duration histogram: Counts[i] requests took at
// most DurationBuckets[i] (not cumulative), Counts[len(DurationBuckets)]
// longer; Sum is their total duration.
type Histogram struct {
	Counts [len(DurationBuckets) + 1]uint64
	Sum    time.Duration
}

// Add adds o to h.
func (h *Histogram) Add(o Histogram) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Sum += o.Sum
}

// Observe counts one request of duration d (for durations the master
// measures itself, of workers without a slot).
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(DurationBuckets) && d > DurationBuckets[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += d
}

// Histogram returns the worker's request-duration histogram.
func (s *Slot) Histogram() Histogram {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var h Histogram
	if s.mem == nil {
		return h
	}
	for i := range h.Counts {
		h.Counts[i] = atomic.LoadUint64(word(s.mem, uintptr(offHist+8*i)))
	}
	h.Sum = time.Duration(atomic.LoadUint64(word(s.mem, uintptr(offHist+8*(histWords-1)))))
	return h
}
