package status

import (
	"strings"
	"testing"
)

func TestDispatchMetrics(t *testing.T) {
	socket := &PoolMetrics{Pool: "go", Status: &Snapshot{Pool: "go"}}
	master := &PoolMetrics{Pool: "php", Status: &Snapshot{Pool: "php"}, Dispatch: &DispatchCounts{
		Answers: map[int]uint64{503: 7, 200: 40}, Queued: 2, Refused: 5, TimedOut: 2, Denied: 1, Retried: 3, Lost: 1,
	}}
	var b strings.Builder
	WriteMetrics(&b, &Exposition{Pools: []*PoolMetrics{socket}})
	if strings.Contains(b.String(), "gofpm_answers_total") || !strings.Contains(b.String(), "gofpm_queue_refused_total{pool=\"go\",reason=\"full\"} 0\n") {
		t.Fatalf("a socket-mode pool has dispatch metrics:\n%s", b.String())
	}
	b.Reset()
	WriteMetrics(&b, &Exposition{Pools: []*PoolMetrics{master, socket}})
	out := b.String()
	for _, want := range []string{
		"# TYPE gofpm_answers_total counter\ngofpm_answers_total{code=\"200\",pool=\"php\"} 40\ngofpm_answers_total{code=\"503\",pool=\"php\"} 7\n",
		"gofpm_queue_waiting{pool=\"php\"} 2\n",
		"gofpm_queue_refused_total{pool=\"php\",reason=\"full\"} 5\ngofpm_queue_refused_total{pool=\"php\",reason=\"timeout\"} 2\n",
		"gofpm_requests_denied_total{pool=\"php\"} 1\n",
		"gofpm_requests_retried_total{pool=\"php\"} 3\n",
		"gofpm_requests_lost_total{pool=\"php\"} 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, `gofpm_queue_waiting{pool="go"}`) {
		t.Errorf("the socket-mode pool got a dispatch line:\n%s", out)
	}
	if err := checkExposition(out); err != nil {
		t.Error(err)
	}
}
