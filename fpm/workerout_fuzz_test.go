package fpm

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/rs/zerolog"
)

// FuzzWorkerOutput: whatever a worker writes, the master's JSON error log
// stays one valid JSON event per line (a worker's JSON line is embedded
// raw, so an invalid one must never be taken for an object).
func FuzzWorkerOutput(f *testing.F) {
	f.Add([]byte("{\"level\":\"error\",\"msg\":\"x\"}\nplain\n"), true)
	f.Add([]byte("{\"a\":1}{\"b\":2}\n{\"level\":30}\n{\"x\":\"\\ud800\"}\n"), false)
	f.Add([]byte("{\"level\":{\"nested\":true}}\n{\n}\n\x00{}\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, decorate bool) {
		var buf bytes.Buffer
		o := &outputCatcher{log: zerolog.New(&buf), pool: "www", decorate: decorate, limit: 512, json: true}
		o.copy(1, "stderr", io.NopCloser(bytes.NewReader(in)))
		for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
			if len(line) > 0 && !json.Valid(line) {
				t.Fatalf("invalid JSON event %q from input %q", line, in)
			}
		}
	})
}
