package front

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readAll drains sp of what it holds now.
func readAll(t *testing.T, sp *spool) (string, error) {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 5000) // not a multiple of chunkSize
	for {
		n, err := sp.Read(buf)
		out.Write(buf[:n])
		if n == 0 {
			return out.String(), err
		}
	}
}

// TestSpool: bytes come out in the order they went in, through memory up
// to the spool's limit and the front's cap, then the file; once the
// reader has caught up the file is emptied and memory is used again.
func TestSpool(t *testing.T) {
	for _, tc := range []struct {
		name         string
		limit, total int64 // the spool's memory, the front's
		wantFile     bool
	}{
		{"all in memory", 4 * chunkSize, 64 * chunkSize, false},
		{"past the spool's limit", 2 * chunkSize, 64 * chunkSize, true},
		{"past the front's cap", 64 * chunkSize, 1 * chunkSize, true},
		{"no memory at all", 0, 64 * chunkSize, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &buffers{opts: Buffering{TempDir: t.TempDir(), BufferMemory: tc.total}}
			defer b.close()
			sp := newSpool(b, tc.limit)
			var want strings.Builder
			for i := range 3 * chunkSize / 1000 {
				p := strings.Repeat(string(rune('a'+i%26)), 1000)
				want.WriteString(p)
				if _, err := sp.Write([]byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			if got := sp.Len(); got != want.Len() {
				t.Fatalf("Len %d, want %d", got, want.Len())
			}
			if (sp.f != nil) != tc.wantFile {
				t.Fatalf("file %v, want %v", sp.f != nil, tc.wantFile)
			}
			if b.mem.Load() > tc.total || sp.held > max(tc.limit, 0) {
				t.Fatalf("memory %d held %d over the caps %d, %d", b.mem.Load(), sp.held, tc.total, tc.limit)
			}
			got, err := readAll(t, sp)
			if err != nil || got != want.String() {
				t.Fatalf("read %d bytes (%v), want %d in order", len(got), err, want.Len())
			}
			if sp.fr != 0 || sp.fw != 0 {
				t.Fatalf("file not emptied after catching up: %d..%d", sp.fr, sp.fw)
			}
			sp.Write([]byte("more"))
			sp.finish(io.EOF)
			if got, err := readAll(t, sp); got != "more" || err != io.EOF {
				t.Fatalf("after catching up: %q %v, want \"more\" and EOF", got, err)
			}
			sp.Close()
			if n := b.mem.Load(); n != 0 {
				t.Fatalf("%d bytes of memory still counted after Close", n)
			}
			if _, err := sp.Write([]byte("x")); err != errSpoolClosed {
				t.Fatalf("Write after Close: %v", err)
			}
		})
	}
}

// TestSpoolInterleaved: a reader that keeps up with the writer, a chunk
// at a time, never needs the file.
func TestSpoolInterleaved(t *testing.T) {
	b := &buffers{opts: Buffering{TempDir: t.TempDir(), BufferMemory: 2 * chunkSize}}
	defer b.close()
	sp := newSpool(b, 2*chunkSize)
	defer sp.Close()
	for i := range 100 {
		p := bytes.Repeat([]byte{byte(i)}, chunkSize/2+7)
		sp.Write(p)
		got, _ := readAll(t, sp)
		if got != string(p) {
			t.Fatalf("round %d: %d bytes back", i, len(got))
		}
	}
	if sp.f != nil {
		t.Fatal("a reader that keeps up made the spool use a file")
	}
}

// TestSpoolFileMax: an answer's temp file never grows past fileMax: the
// writer waits for a slow reader past it, every byte still comes out in
// order, and Close frees a writer that waits.
func TestSpoolFileMax(t *testing.T) {
	b := &buffers{opts: Buffering{TempDir: t.TempDir(), BufferMemory: 64 * chunkSize}}
	defer b.close()
	sp := newSpool(b, chunkSize)
	sp.fileMax = 3 * chunkSize
	var want bytes.Buffer
	wrote := make(chan error, 1)
	go func() {
		for i := range 40 {
			p := bytes.Repeat([]byte{byte('a' + i%26)}, chunkSize/2+11)
			want.Write(p)
			if _, err := sp.Write(p); err != nil {
				wrote <- err
				return
			}
		}
		sp.finish(io.EOF)
		wrote <- nil
	}()
	var got bytes.Buffer
	buf := make([]byte, 1000) // a slow reader: small reads
	for {
		sp.mu.Lock()
		size := sp.fw // the file's size: what was read of it is freed only once the reader catches up
		sp.mu.Unlock()
		if size > sp.fileMax {
			t.Fatalf("a file of %d bytes, over %d", size, sp.fileMax)
		}
		n, err := sp.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if n == 0 {
			<-sp.ready
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("%d bytes out, want %d in order", got.Len(), want.Len())
	}
	// A writer waiting on a reader that went away is freed by Close.
	sp2 := newSpool(b, 0)
	sp2.fileMax = chunkSize
	sp2.Write(make([]byte, chunkSize))
	go func() { _, err := sp2.Write(make([]byte, chunkSize)); wrote <- err }()
	sp2.Close()
	if err := <-wrote; err != errSpoolClosed {
		t.Fatalf("a waiting writer after Close: %v", err)
	}
}

// TestTempFile: temp files have no name, live in a private 0700 folder
// under TempDir, and the folder goes away with the front.
func TestTempFile(t *testing.T) {
	base := t.TempDir()
	b := &buffers{opts: Buffering{TempDir: base}}
	f, err := b.tempFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("secret"); err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "gofpm-front-*"))
	if len(dirs) != 1 {
		t.Fatalf("folders %v, want one", dirs)
	}
	fi, err := os.Lstat(dirs[0])
	if err != nil || fi.Mode() != os.ModeDir|0o700 {
		t.Fatalf("folder mode %v %v, want drwx------", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dirs[0]); len(ents) != 0 {
		t.Fatalf("the temp file has a name: %v", ents)
	}
	// A symlink put in place of the folder is not followed: files are
	// made through the folder's descriptor.
	elsewhere := t.TempDir()
	os.Rename(dirs[0], dirs[0]+".moved")
	if err := os.Symlink(elsewhere, dirs[0]); err != nil {
		t.Fatal(err)
	}
	f2, err := b.tempFile()
	if err != nil {
		t.Fatal(err)
	}
	f2.Close()
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Fatalf("a temp file went through the symlink: %v", ents)
	}
	os.Remove(dirs[0])
	os.Rename(dirs[0]+".moved", dirs[0])
	b.close()
	if _, err := os.Lstat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("folder left after close: %v", err)
	}
	if _, err := b.tempFile(); err == nil {
		t.Fatal("a temp file after close")
	}
}
