package fpm

// This file is the time a pool runs on: the real clock, or one a test
// advances by hand, so that every timer of the pool loop fires at a time
// the test chose.

import "time"

// clock gives the pool loop the time, its timers and its tickers.
type clock interface {
	Now() time.Time
	// NewTimer fires once, after d.
	NewTimer(d time.Duration) timer
	// NewTicker fires every d.
	NewTicker(d time.Duration) timer
}

// timer is a time.Timer or a time.Ticker of a clock.
type timer interface {
	C() <-chan time.Time
	Stop()
}

// timerC is t's channel, or nil (never ready) when there is no timer.
func timerC(t timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C()
}

// stopTimer stops t, if there is one, and returns nil for the caller to
// store.
func stopTimer(t timer) timer {
	if t != nil {
		t.Stop()
	}
	return nil
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                  { return time.Now() }
func (realClock) NewTimer(d time.Duration) timer  { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) timer { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop()               { t.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
