package proto

import (
	"net/http"
	"testing"
	"time"
)

func benchSlot(b *testing.B, cpu bool) (*Slot, *SlotWriter) {
	s, w := newTestSlot(b)
	w.cpu = cpu
	return s, w
}

func benchRequest(b *testing.B) *http.Request {
	p := reqParams("GET", "/index.php/catalog/product/view?id=12345&category=shoes&utm_source=newsletter", "/var/www/html/public/index.php")
	return fcgiRequests(b, p)[0]
}

// BenchmarkSlotRequest is the scoreboard cost of one request in a worker
// with CPU accounting off (GOFPM_REQUEST_CPU=0): the four updates as
// worker.go calls them, three of them with a clock reading. No system call,
// no allocation.
func BenchmarkSlotRequest(b *testing.B) {
	_, w := benchSlot(b, false)
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		w.Accepted()
		w.RequestStart(r)
		w.RequestEnd()
		w.Idle()
	}
}

// BenchmarkSlotRequestNoClock is BenchmarkSlotRequest without the three
// clock readings: the slot writes alone.
func BenchmarkSlotRequestNoClock(b *testing.B) {
	_, w := benchSlot(b, false)
	r := benchRequest(b)
	now := int64(time.Second)
	b.ReportAllocs()
	for b.Loop() {
		w.acceptedAt(now)
		w.requestStartAt(r, now)
		w.requestEndAt(now)
		w.Idle()
	}
}

// BenchmarkSlotRequestCPU is BenchmarkSlotRequest with CPU accounting on
// (the default): one getrusage per request.
func BenchmarkSlotRequestCPU(b *testing.B) {
	_, w := benchSlot(b, true)
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		w.Accepted()
		w.RequestStart(r)
		w.RequestEnd()
		w.Idle()
	}
}

// BenchmarkSlotGetrusage is the cost of the CPU measurement alone.
func BenchmarkSlotGetrusage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if processCPU() < 0 {
			b.Fatal("getrusage failed")
		}
	}
}

// BenchmarkSlotNilWriter is the cost in a standalone worker (no slot).
func BenchmarkSlotNilWriter(b *testing.B) {
	var w *SlotWriter
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		w.Accepted()
		w.RequestStart(r)
		w.RequestEnd()
		w.Idle()
	}
}

// BenchmarkSlotRead is the master's read of a slot showing a running
// request.
func BenchmarkSlotRead(b *testing.B) {
	s, w := benchSlot(b, false)
	r := benchRequest(b)
	w.Accepted()
	w.RequestStart(r)
	b.ReportAllocs()
	for b.Loop() {
		if sn := s.Read(); sn.Stage != StageRunning {
			b.Fatal(sn.Stage)
		}
	}
}

// BenchmarkSlotStage is the master's lock-free stage read.
func BenchmarkSlotStage(b *testing.B) {
	s, w := benchSlot(b, false)
	w.Idle()
	b.ReportAllocs()
	for b.Loop() {
		if s.Stage() != StageIdle {
			b.Fatal("stage")
		}
	}
}
