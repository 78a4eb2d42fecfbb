package proto

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gfcgi "github.com/gofpm/gofpm/fcgi"
	"golang.org/x/sys/unix"
)

// newTestSlot creates a slot as the master does and attaches a writer to
// it through a duplicate of the slot's fd, as a worker would through fd 3.
func newTestSlot(t testing.TB) (*Slot, *SlotWriter) {
	t.Helper()
	f, s, err := NewSlotFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Cleanup(func() { s.Close() })
	if snap := s.Read(); snap.Written || snap.Stage != StageStarting {
		t.Fatalf("fresh slot: %+v", snap)
	}
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w, err := attachSlotFD(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(w.mem) })
	// attachSlotFD closes the fd it was given.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
		t.Error("attachSlotFD left the fd open")
	}
	return s, w
}

// fcgiRequests returns requests as net/http/fcgi builds them from these
// params (so stdfcgi.ProcessEnv works on them), by serving them over a Unix
// socket.
func fcgiRequests(t testing.TB, params ...map[string]string) []*http.Request {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *http.Request, 1)
	go stdfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
	}))
	c := &gfcgi.Client{Network: "unix", Address: sock}
	var reqs []*http.Request
	for _, p := range params {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.Do(ctx, &gfcgi.Request{Params: p})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cancel()
		reqs = append(reqs, <-got)
	}
	return reqs
}

func reqParams(method, uri, script string) map[string]string {
	return map[string]string{
		"REQUEST_METHOD": method, "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "example.com", "SCRIPT_FILENAME": script, "SCRIPT_NAME": "/index.php",
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_NAME": "example.com",
		"SERVER_PORT": "80", "GATEWAY_INTERFACE": "CGI/1.1", "DOCUMENT_ROOT": "/var/www",
		"HTTP_USER_AGENT": "curl/8.5.0", "HTTP_ACCEPT": "*/*",
	}
}

func TestSlotRequestCycle(t *testing.T) {
	t.Setenv(EnvRequestCPU, "1")
	s, w := newTestSlot(t)
	p := reqParams("POST", "/index.php/a/b?x=1&y=2", "/var/www/index.php")
	p["CONTENT_LENGTH"] = "0"
	r := fcgiRequests(t, p)[0]
	r.ContentLength = 42 // as if the request had a body

	snap := s.Read()
	if !snap.Written || snap.Torn || snap.PID != os.Getpid() || snap.Stage != StageStarting ||
		snap.Requests != 0 || !snap.CPUMeasured || snap.LastCPU != 0 {
		t.Fatalf("after attach: %+v", snap)
	}
	w.Idle()
	if st := s.Read().Stage; st != StageIdle || s.Stage() != StageIdle {
		t.Fatalf("after idle: %v", st)
	}

	// The real clock: wall-clock times are close to time.Now.
	before := time.Now()
	w.Accepted()
	w.RequestStart(r)
	after := time.Now()
	snap = s.Read()
	if snap.Accepted.Before(before.Add(-time.Millisecond)) || snap.Accepted.After(after.Add(time.Millisecond)) ||
		snap.RequestStart.Before(snap.Accepted) || snap.RequestStart.After(after.Add(time.Millisecond)) {
		t.Fatalf("accepted %v, started %v, not within [%v, %v]", snap.Accepted, snap.RequestStart, before, after)
	}
	w.RequestEnd()
	end := time.Now()
	w.Idle()
	if snap = s.Read(); snap.Requests != 1 || snap.Stage != StageIdle || snap.LastDuration <= 0 || snap.LastDuration > end.Sub(before) {
		t.Fatalf("real clock: %+v", snap)
	}
	prev := snap

	// Then chosen times.
	wall := func(mono int64) time.Time { return time.Unix(0, w.originWall+mono) }
	t0 := int64(time.Second)
	w.acceptedAt(t0)
	snap = s.Read()
	if snap.Stage != StageReadingHeaders || !snap.Accepted.Equal(wall(t0)) || !snap.RequestStart.IsZero() ||
		snap.InFlight != 1 || snap.URI != "" || snap.Requests != 1 {
		t.Fatalf("after accepted: %+v", snap)
	}

	t1 := t0 + int64(3*time.Millisecond)
	w.requestStartAt(r, t1)
	snap = s.Read()
	want := SlotSnapshot{
		Written: true, PID: os.Getpid(), Stage: StageRunning, InFlight: 1,
		Accepted: wall(t0), RequestStart: wall(t1),
		Method: "POST", URI: "/index.php/a/b", Query: "x=1&y=2", Script: "/var/www/index.php",
		ContentLength: 42, CPUMeasured: true, Requests: 1,
		LastDuration: prev.LastDuration, LastCPU: prev.LastCPU, // of the request before
	}
	if !snapEqual(snap, want) {
		t.Fatalf("after requestStart:\n got %+v\nwant %+v", snap, want)
	}

	t2 := t0 + int64(10*time.Millisecond)
	w.requestEndAt(t2)
	snap = s.Read()
	want.Stage, want.InFlight, want.Requests, want.LastDuration = StageFinishing, 0, 2, 10*time.Millisecond
	want.LastCPU = snap.LastCPU
	if !snapEqual(snap, want) || snap.LastCPU < 0 {
		t.Fatalf("after requestEnd:\n got %+v\nwant %+v", snap, want)
	}

	w.Idle() // the fields of the last request stay
	snap = s.Read()
	want.Stage = StageIdle
	if !snapEqual(snap, want) {
		t.Fatalf("after idle:\n got %+v\nwant %+v", snap, want)
	}

	// The next request clears them when its first byte arrives.
	w.acceptedAt(t2)
	snap = s.Read()
	if snap.Method != "" || snap.URI != "" || snap.Query != "" || snap.Script != "" || snap.ContentLength != 0 ||
		!snap.RequestStart.IsZero() || snap.Requests != 2 || snap.LastDuration != 10*time.Millisecond {
		t.Fatalf("second accepted: %+v", snap)
	}
	w.requestEndAt(t2 + int64(time.Millisecond)) // aborted before the handler ran
	w.Ending(ExitMaxRequests)
	w.Ending(ExitSignal) // the first reason stays
	snap = s.Read()
	if snap.Stage != StageEnding || snap.ExitReason != ExitMaxRequests || snap.Requests != 3 || snap.InFlight != 0 {
		t.Fatalf("after ending: %+v", snap)
	}
	w.Idle()
	if st := s.Stage(); st != StageEnding {
		t.Fatalf("idle after ending: %v", st)
	}

	s.Close()
	if snap := s.Read(); snap.Written || s.Stage() != StageStarting {
		t.Fatalf("after Close: %+v", snap)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func snapEqual(a, b SlotSnapshot) bool {
	ta, tb := a.Accepted, b.Accepted
	ra, rb := a.RequestStart, b.RequestStart
	a.Accepted, b.Accepted, a.RequestStart, b.RequestStart = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && ra.Equal(rb)
}

// TestSlotConcurrentRequests: with a worker concurrency above 1 the stage
// stays active while any request is in flight.
func TestSlotConcurrentRequests(t *testing.T) {
	s, w := newTestSlot(t)
	w.Idle()
	w.Accepted()
	w.Accepted()
	if snap := s.Read(); snap.InFlight != 2 || snap.Stage != StageReadingHeaders {
		t.Fatalf("%+v", snap)
	}
	w.RequestEnd()
	w.Idle()
	w.Ending(ExitSignal)
	if snap := s.Read(); snap.InFlight != 1 || snap.Stage != StageRunning || snap.ExitReason != ExitSignal {
		t.Fatalf("one of two ended: %+v", snap)
	}
	w.RequestEnd()
	if snap := s.Read(); snap.InFlight != 0 || snap.Stage != StageFinishing || snap.Requests != 2 {
		t.Fatalf("both ended: %+v", snap)
	}
	w.Idle()
	if st := s.Stage(); st != StageEnding {
		t.Fatalf("idle while stopping: %v", st)
	}
	w.RequestEnd() // unbalanced: InFlight stays at 0
	if snap := s.Read(); snap.InFlight != 0 {
		t.Fatalf("%+v", snap)
	}
}

// TestSlotNoTornReads: writers alternate two requests whose fields all
// differ (lengths included); a reader in another mapping must see one or
// the other, never a mix.
func TestSlotNoTornReads(t *testing.T) {
	s, w := newTestSlot(t)
	reqs := fcgiRequests(t,
		reqParams("GET", "/a?q=1", "/srv/a.php"),
		reqParams("DELETE", "/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/cc?"+strings.Repeat("z", 300), "/srv/longer/b.php"),
	)
	reqs[0].ContentLength, reqs[1].ContentLength = 1, 2
	monos := [2]int64{1000, 2000}
	type fields struct {
		method, uri, query, script string
		cl                         int64
		start                      int64
	}
	key := func(sn SlotSnapshot) fields {
		return fields{sn.Method, sn.URI, sn.Query, sn.Script, sn.ContentLength, sn.RequestStart.UnixNano()}
	}
	var sets [2]fields
	for i, r := range reqs {
		sets[i] = fields{r.Method, r.URL.Path, r.URL.RawQuery, stdfcgi.ProcessEnv(r)["SCRIPT_FILENAME"], r.ContentLength, w.originWall + monos[i]}
	}
	w.requestStartAt(reqs[0], monos[0])

	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 2 { // two writers exercise the writers' lock too
		wg.Go(func() {
			for i := g; !stop.Load(); i++ {
				w.requestStartAt(reqs[i%2], monos[i%2])
			}
		})
	}
	// The writers never pause, so many reads give up (Torn); a real worker
	// writes four times per request. Read until enough were consistent.
	// A generous deadline for loaded machines; the loop ends as soon as
	// enough reads were consistent.
	deadline := time.Now().Add(15 * time.Second)
	var seen [2]int
	torn := 0
	reads := 0
	for ; (seen[0]+seen[1] < 5000 || min(seen[0], seen[1]) < 100) && time.Now().Before(deadline); reads++ {
		sn := s.Read()
		if sn.Torn {
			torn++
			continue
		}
		switch key(sn) {
		case sets[0]:
			seen[0]++
		case sets[1]:
			seen[1]++
		default:
			stop.Store(true)
			wg.Wait()
			t.Fatalf("mixed snapshot after %d reads: %+v", reads, key(sn))
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads: %d of A, %d of B, %d torn", reads, seen[0], seen[1], torn)
	if seen[0] == 0 || seen[1] == 0 {
		t.Errorf("the reader did not see both field sets: %v", seen)
	}
	if seen[0]+seen[1] < 100 {
		t.Errorf("only %d of %d reads were consistent", seen[0]+seen[1], reads)
	}
}

// TestSlotReaderGivesUp: a slot left mid-update (a worker killed while
// writing) gives a snapshot marked Torn instead of blocking the master.
func TestSlotReaderGivesUp(t *testing.T) {
	s, w := newTestSlot(t)
	w.Idle()
	w.lock()
	snap := s.Read()
	if !snap.Torn || !snap.Written || snap.Stage != StageIdle {
		t.Fatalf("%+v", snap)
	}
}

func TestSlotTruncation(t *testing.T) {
	s, w := newTestSlot(t)
	longPath := "/" + strings.Repeat("p", 3000)
	longQuery := strings.Repeat("q", 3000)
	longScript := "/" + strings.Repeat("s", 3000)
	r := fcgiRequests(t, reqParams("GET", longPath+"?"+longQuery, longScript))[0]
	r.Method = strings.Repeat("M", 40)
	w.RequestStart(r)
	snap := s.Read()
	if snap.Method != r.Method[:sizeMethod] || snap.URI != longPath[:sizeURI] ||
		snap.Query != longQuery[:sizeQuery] || snap.Script != longScript[:sizeScript] {
		t.Fatalf("lengths %d %d %d %d", len(snap.Method), len(snap.URI), len(snap.Query), len(snap.Script))
	}

	// A cut never splits a UTF-8 sequence.
	r.URL.Path = "/" + strings.Repeat("é", sizeURI) // 2 bytes each: the cut falls inside one
	w.RequestStart(r)
	snap = s.Read()
	if len(snap.URI) != sizeURI-1 || !strings.HasPrefix(r.URL.Path, snap.URI) {
		t.Fatalf("utf-8 cut: len %d", len(snap.URI))
	}

	// A request built without net/http/fcgi has no script.
	plain, _ := http.NewRequest("PUT", "http://x/p?a=b", nil)
	w.RequestStart(plain)
	if snap := s.Read(); snap.Method != "PUT" || snap.URI != "/p" || snap.Query != "a=b" || snap.Script != "" {
		t.Fatalf("plain request: %+v", snap)
	}
}

func TestSlotNilWriter(t *testing.T) {
	var w *SlotWriter
	r, _ := http.NewRequest("GET", "http://x/", nil)
	w.Idle()
	w.Accepted()
	w.RequestStart(r)
	w.RequestEnd()
	w.Ending(ExitSignal)
}

func TestAttachSlot(t *testing.T) {
	t.Setenv(EnvScoreboardFD, "")
	if w, err := AttachSlot(); w != nil || err != nil {
		t.Fatalf("unset: %v %v", w, err)
	}
	t.Setenv(EnvScoreboardFD, "x")
	if w, err := AttachSlot(); w != nil || err == nil {
		t.Fatalf("bad value: %v %v", w, err)
	}
	if _, ok := os.LookupEnv(EnvScoreboardFD); ok {
		t.Error("AttachSlot left the variable set")
	}

	// fds that are not slots are refused and left open.
	f, err := os.CreateTemp(t.TempDir(), "notslot")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if w, err := attachSlotFD(int(f.Fd())); w != nil || err == nil {
		t.Fatalf("empty file: %v %v", w, err)
	}
	f.Truncate(SlotSize)
	if w, err := attachSlotFD(int(f.Fd())); w != nil || err == nil {
		t.Fatalf("file without magic: %v %v", w, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if w, err := attachSlotFD(int(pr.Fd())); w != nil || err == nil {
		t.Fatalf("pipe: %v %v", w, err)
	}
	if _, err := f.Stat(); err != nil {
		t.Fatalf("the refused fd was closed: %v", err)
	}

	// A slot of another layout version is refused.
	sf, s, err := NewSlotFile()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	defer s.Close()
	atomic.StoreUint64(word(s.mem, offMagic), slotMagic|(slotVersion+1)<<32)
	if w, err := attachSlotFD(int(sf.Fd())); w != nil || err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("other version: %v %v", w, err)
	}
}

func TestSlotCPU(t *testing.T) {
	t.Setenv(EnvRequestCPU, "1")
	s, w := newTestSlot(t)
	w.Accepted()
	// Spin until the process has used 30 ms of CPU, not 30 ms of wall
	// time: on a loaded machine the latter can be almost no CPU at all.
	cpu := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for c0, deadline := cpu(), time.Now().Add(20*time.Second); cpu()-c0 < 30*time.Millisecond && time.Now().Before(deadline); {
	}
	w.RequestEnd()
	snap := s.Read()
	if !snap.CPUMeasured || snap.LastCPU < 5*time.Millisecond || snap.LastCPU > 10*time.Second {
		t.Fatalf("busy request: cpu %v measured %v", snap.LastCPU, snap.CPUMeasured)
	}

	t.Setenv(EnvRequestCPU, "0")
	s, w = newTestSlot(t)
	w.Accepted()
	w.RequestEnd()
	if snap := s.Read(); snap.CPUMeasured || snap.LastCPU != 0 || snap.Requests != 1 {
		t.Fatalf("cpu off: %+v", snap)
	}
}

func TestSlotAllocs(t *testing.T) {
	t.Setenv(EnvRequestCPU, "")
	s, w := newTestSlot(t)
	r := fcgiRequests(t, reqParams("GET", "/index.php?a=1", "/var/www/index.php"))[0]
	if n := testing.AllocsPerRun(100, func() {
		w.Accepted()
		w.RequestStart(r)
		w.RequestEnd()
		w.Idle()
	}); n != 0 {
		t.Errorf("request cycle: %v allocs", n)
	}
	// Read allocates the four strings and nothing else.
	if n := testing.AllocsPerRun(100, func() { s.Read() }); n > 4 {
		t.Errorf("Read: %v allocs", n)
	}
}

func TestStageString(t *testing.T) {
	for st, want := range map[Stage]string{
		StageStarting: "Starting", StageIdle: "Idle", StageReadingHeaders: "Reading headers",
		StageRunning: "Running", StageFinishing: "Finishing", StageEnding: "Ending", 9: "Stage(9)",
	} {
		if got := st.String(); got != want {
			t.Errorf("%d: %q, want %q", st, got, want)
		}
	}
	if ExitMaxRequests.String() != "max requests" || ExitSignal.String() != "signal" || ExitNone.String() != "none" {
		t.Error("ExitReason strings")
	}
}

// envSlotChild makes the test binary act as a worker for
// TestSlotChildProcess.
const envSlotChild = "GOFPM_TEST_SLOT_CHILD"

// TestSlotChildProcess hands the slot to a child process the way the master
// does (ExtraFiles[0], GOFPM_SCOREBOARD_FD=3): the child, this test binary
// re-executed, attaches, serves one request and stops; the parent reads it.
func TestSlotChildProcess(t *testing.T) {
	if os.Getenv(envSlotChild) == "1" {
		slotChild()
		return
	}
	f, s, err := NewSlotFile()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSlotChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envSlotChild+"=1", EnvScoreboardFD+"=3", EnvRequestCPU+"=1")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	f.Close()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	snap := s.Read()
	if !snap.Written || snap.PID != cmd.Process.Pid || snap.Stage != StageEnding ||
		snap.ExitReason != ExitMaxRequests || snap.Requests != 1 || snap.Method != "GET" ||
		snap.URI != "/child" || snap.Query != "n=1" || snap.LastDuration < 5*time.Millisecond || !snap.CPUMeasured {
		t.Fatalf("slot written by the child: %+v\nchild output:\n%s", snap, out)
	}
}

func slotChild() {
	fail := func(args ...any) {
		fmt.Fprintln(os.Stderr, args...)
		os.Exit(2)
	}
	w, err := AttachSlot()
	if err != nil || w == nil {
		fail("AttachSlot:", err)
	}
	if _, ok := os.LookupEnv(EnvScoreboardFD); ok {
		fail("the variable is still set")
	}
	if _, err := unix.FcntlInt(ScoreboardFD, unix.F_GETFD, 0); err == nil {
		fail("fd 3 is still open")
	}
	r, _ := http.NewRequest("GET", "http://x/child?n=1", nil)
	w.Idle()
	w.Accepted()
	w.RequestStart(r)
	time.Sleep(5 * time.Millisecond)
	w.RequestEnd()
	w.Ending(ExitMaxRequests)
	os.Exit(0)
}

// TestSlotPutWords checks the string copy used on CPUs without total store
// order (arm64 and others), which amd64 does not otherwise run.
func TestSlotPutWords(t *testing.T) {
	s, w := newTestSlot(t)
	for _, v := range []string{"", "a", "1234567", "12345678", "123456789", strings.Repeat("xyz", 100)} {
		w.putString(offURI, sizeURI, strings.Repeat("#", sizeURI)) // garbage to overwrite
		sq := w.lock()
		w.putWords(offURI, v)
		w.store(offLens, int64(len(v))<<16)
		w.unlock(sq)
		if got := s.Read().URI; got != v {
			t.Fatalf("putWords(%q): read %q", v, got)
		}
	}
}
