package proto

// This file is the request-duration histogram a worker keeps in its slot:
// the bucket bounds, the master's read of it, and the same histogram for
// the durations the master measures itself.

import (
	"sync/atomic"
	"time"
)

// DurationBuckets are the upper bounds of the request-duration histogram a
// worker keeps in its slot (Prometheus' "le"); a last bucket, +Inf, follows.
var DurationBuckets = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

var _ [histWords - len(DurationBuckets) - 2]struct{}
var _ [len(DurationBuckets) + 2 - histWords]struct{}

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
