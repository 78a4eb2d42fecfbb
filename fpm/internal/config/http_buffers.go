package config

// This file holds the [http] keys for buffering and slow clients: their
// defaults and their checks.

import (
	"os"
	"time"
)

// HTTPBuffers are the [http] keys of the front's buffers and its limits on
// slow clients (docs/configuration.md, "Slow clients and buffers").
type HTTPBuffers struct {
	// BodyBufferSize is the part of a request body kept in memory (nginx's
	// client_body_buffer_size); the rest goes to a temp file. Default 64KiB.
	BodyBufferSize Size `toml:"body_buffer_size"`
	// AnswerBufferSize is the part of an answer kept in memory while the
	// client reads slower than the worker writes (nginx's fastcgi_buffers);
	// the rest goes to a temp file. Default 256KiB.
	AnswerBufferSize Size `toml:"answer_buffer_size"`
	// BufferMemory caps the memory of all buffered bodies and answers
	// together; past it they go to temp files. Default 64MiB.
	BufferMemory Size `toml:"buffer_memory"`
	// TempDir is where the front makes its private 0700 folder of temp
	// files; default the system's temp folder ($TMPDIR or /tmp).
	TempDir string `toml:"temp_dir"`
	// BodyTimeout bounds the receipt of a whole request body, from the end
	// of its header; then 408. Default 60s; 0 for none.
	BodyTimeout Duration `toml:"body_timeout"`
	// SendTimeout bounds each write of an answer to the client (nginx's
	// send_timeout); then the connection is closed. Default 60s; 0 for none.
	SendTimeout Duration `toml:"send_timeout"`
	// RequestTimeout bounds the whole exchange, from the end of the
	// request's header to the last byte of its answer: 504 before the
	// answer's header, a cut connection after. Default 0 (none: it would
	// cut server-sent events and long polls).
	RequestTimeout Duration `toml:"request_timeout"`
	// MaxConnections caps the client connections open at once; more wait
	// in the listen queue. Default 1024; 0 for no cap.
	MaxConnections int `toml:"max_connections"`
}

func (b *HTTPBuffers) setDefaults(set func(key string) bool) {
	size := func(s *Size, key string, v Size) {
		if !set(key) {
			*s = v
		}
	}
	size(&b.BodyBufferSize, "body_buffer_size", 64<<10)
	size(&b.AnswerBufferSize, "answer_buffer_size", 256<<10)
	size(&b.BufferMemory, "buffer_memory", 64<<20)
	if !set("body_timeout") {
		b.BodyTimeout = Duration(60 * time.Second)
	}
	if !set("send_timeout") {
		b.SendTimeout = Duration(60 * time.Second)
	}
	if !set("max_connections") {
		b.MaxConnections = 1024
	}
}

// validateHTTPBuffers checks the keys of HTTPBuffers (negative sizes and
// durations are refused by the decoder).
func (l *loader) validateHTTPBuffers(h *HTTP) {
	if h.TempDir != "" {
		if fi, err := os.Stat(h.TempDir); err != nil {
			l.errAt(keyPath{"http", "temp_dir"}, "http: temp_dir: %v", err)
		} else if !fi.IsDir() {
			l.errAt(keyPath{"http", "temp_dir"}, "http: temp_dir: %s is not a directory", h.TempDir)
		}
	}
	if h.MaxConnections < 0 {
		l.errAt(keyPath{"http", "max_connections"}, "http: max_connections: %d is negative", h.MaxConnections)
	}
}
