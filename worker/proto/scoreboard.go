package proto

// This file is the per-worker scoreboard slot: a page of shared memory in
// which a Go worker publishes its request stage and the fields of its
// current or last request, and which the master reads, like php-fpm's
// struct fpm_scoreboard_proc_s.
//
// The master creates one slot per worker process (NewSlotFile), maps it and
// hands the file to the worker as fd ScoreboardFD with EnvScoreboardFD set.
// The worker maps it too (AttachSlot) and writes it at each stage change
// (SlotWriter). Writes are a seqlock: the writer makes the sequence word odd,
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
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

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
	offInFlight     = 40  // requests between Accepted and RequestEnd
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
