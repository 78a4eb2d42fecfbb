package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHTTPBuffers: the keys of [http] for buffers and slow clients: their
// defaults, explicit values (0 kept), and negative values refused.
func TestHTTPBuffers(t *testing.T) {
	dir := t.TempDir()
	load := func(extra string) (*Config, error) {
		t.Helper()
		path := filepath.Join(dir, "pool.toml")
		text := "[pool.www]\nlisten = \"" + dir + "/www.sock\"\ncommand = [\"/bin/true\"]\npm = \"static\"\npm_max_children = 1\n\n[http]\nlisten = \"127.0.0.1:8080\"\n" + extra
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(path, LoadOptions{Euid: 1000})
	}
	cfg, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	want := HTTPBuffers{BodyBufferSize: 64 << 10, AnswerBufferSize: 256 << 10, BufferMemory: 64 << 20,
		BodyTimeout: Duration(time.Minute), SendTimeout: Duration(time.Minute), MaxConnections: 1024}
	if cfg.HTTP.HTTPBuffers != want {
		t.Fatalf("defaults %+v, want %+v", cfg.HTTP.HTTPBuffers, want)
	}
	os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
	cfg, err = load("body_buffer_size = \"1MiB\"\nanswer_buffer_size = 0\nbuffer_memory = \"1GiB\"\ntemp_dir = \"tmp\"\nbody_timeout = 0\nsend_timeout = \"5s\"\nrequest_timeout = \"2m\"\nmax_connections = 0\n")
	if err != nil {
		t.Fatal(err)
	}
	want = HTTPBuffers{BodyBufferSize: 1 << 20, BufferMemory: 1 << 30, TempDir: filepath.Join(dir, "tmp"), SendTimeout: Duration(5 * time.Second), RequestTimeout: Duration(2 * time.Minute)}
	if cfg.HTTP.HTTPBuffers != want {
		t.Fatalf("set %+v, want %+v", cfg.HTTP.HTTPBuffers, want)
	}
	_, err = load("temp_dir = \"missing\"\nmax_connections = -1\nbody_timeout = \"-1s\"\nbuffer_memory = -5\nsend_timout = \"1s\"\n")
	for _, msg := range []string{"http: max_connections: -1 is negative", `http: body_timeout: duration "-1s" must not be negative`, "http: buffer_memory: size -5 must not be negative", `unknown key "http.send_timout" (did you mean "send_timeout"?)`, "http: temp_dir: stat " + filepath.Join(dir, "missing") + ": no such file or directory"} {
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("error %v, want it to say %q", err, msg)
		}
	}
}
