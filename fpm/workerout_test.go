package fpm

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// catch runs an outputCatcher over input and returns the JSON events it logged.
func catch(t *testing.T, o outputCatcher, input string) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	o.log = zerolog.New(&buf).Level(zerolog.DebugLevel)
	o.pool = "www"
	o.copy(42, "stderr", io.NopCloser(strings.NewReader(input)))
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON event: %q", l)
		}
		out = append(out, ev)
	}
	return out
}

// TestWorkerJSONLines: in a JSON error log a worker's JSON line is an
// object under "line", at its own level; other lines are php-fpm's text.
func TestWorkerJSONLines(t *testing.T) {
	in := `{"level":"ERROR","msg":"db down","attempt":3}` + "\n" +
		`{"time":"x","msg":"no level"}` + "\n" +
		`{"level":30,"msg":"pino info"}` + "\n" +
		`{"severity":"debug","message":"gcp style"}` + "\n" +
		"plain text {not json}\n" +
		`{"broken": }` + "\n"
	evs := catch(t, outputCatcher{decorate: true, limit: 1024, json: true}, in)
	want := []struct{ level, msg, line string }{
		{"error", "[pool www] child 42 said into stderr", `{"level":"ERROR","msg":"db down","attempt":3}`},
		{"warn", "[pool www] child 42 said into stderr", `{"time":"x","msg":"no level"}`},
		{"info", "[pool www] child 42 said into stderr", `{"level":30,"msg":"pino info"}`},
		{"debug", "[pool www] child 42 said into stderr", `{"severity":"debug","message":"gcp style"}`},
		{"warn", `[pool www] child 42 said into stderr: "plain text {not json}"`, ""},
		{"warn", `[pool www] child 42 said into stderr: "{"broken": }"`, ""},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d: %v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		if ev["level"] != w.level || ev["message"] != w.msg || ev["pid"] != float64(42) {
			t.Errorf("event %d: %v, want level %s, message %q", i, ev, w.level, w.msg)
		}
		if w.line == "" {
			if _, ok := ev["line"]; ok {
				t.Errorf("event %d: a line object for text: %v", i, ev)
			}
			continue
		}
		obj, ok := ev["line"].(map[string]any)
		var wantObj map[string]any
		json.Unmarshal([]byte(w.line), &wantObj)
		if !ok || len(obj) != len(wantObj) {
			t.Errorf("event %d: line %#v, want the object %s", i, ev["line"], w.line)
		}
	}

	// Undecorated: the worker's own message is the message.
	evs = catch(t, outputCatcher{decorate: false, limit: 1024, json: true}, `{"level":"warn","msg":"slow query"}`+"\n")
	if evs[0]["message"] != "slow query" || evs[0]["level"] != "warn" {
		t.Errorf("undecorated: %v", evs[0])
	}
	// A console (not JSON) error log keeps php-fpm's text.
	evs = catch(t, outputCatcher{decorate: true, limit: 1024}, `{"level":"error"}`+"\n")
	if evs[0]["message"] != `[pool www] child 42 said into stderr: "{"level":"error"}"` || evs[0]["level"] != "warn" {
		t.Errorf("console log: %v", evs[0])
	}
}

// TestWorkerLineLimit: lines are wrapped at log_limit, not at 1024.
func TestWorkerLineLimit(t *testing.T) {
	long := strings.Repeat("x", 3000) + "\n"
	if evs := catch(t, outputCatcher{decorate: false, limit: 1024}, long); len(evs) != 3 {
		t.Errorf("log_limit 1024: %d pieces, want 3", len(evs))
	}
	evs := catch(t, outputCatcher{decorate: false, limit: 4096}, long)
	if len(evs) != 1 || evs[0]["message"] != strings.TrimSpace(long) {
		t.Errorf("log_limit 4096: %d pieces, want the whole line in one", len(evs))
	}
	// A JSON line longer than 1024 stays one object under a higher limit.
	obj := `{"level":"info","msg":"` + strings.Repeat("y", 2000) + `"}` + "\n"
	evs = catch(t, outputCatcher{decorate: true, limit: 4096, json: true}, obj)
	if len(evs) != 1 || evs[0]["level"] != "info" {
		t.Errorf("long JSON line: %d events %v", len(evs), evs)
	}
}
