package proto

import (
	"testing"
)

// FuzzSlotRead: the master reads bytes a worker wrote, so a slot is
// untrusted input. Whatever it holds, Read and Stack must not panic and
// must keep strings within their fields.
func FuzzSlotRead(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, SlotSize))
	full := make([]byte, SlotSize)
	for i := range full {
		full[i] = 0xff
	}
	f.Add(full)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, s, err := NewSlotFile()
		if err != nil {
			t.Skip(err)
		}
		defer file.Close()
		defer s.Close()
		// Keep the master's magic word: a worker cannot change it in a way
		// that matters more than any other field, and Read checks it.
		magic := [8]byte(s.mem[offMagic : offMagic+8])
		copy(s.mem, data)
		copy(s.mem[offMagic:], magic[:])
		snap := s.Read()
		if len(snap.Method) > sizeMethod || len(snap.URI) > sizeURI || len(snap.Query) > sizeQuery || len(snap.Script) > sizeScript {
			t.Fatalf("string longer than its field: %d %d %d %d", len(snap.Method), len(snap.URI), len(snap.Query), len(snap.Script))
		}
		if st := s.Stack(); len(st) > sizeStack {
			t.Fatalf("stack of %d bytes", len(st))
		}
		_ = s.Stage().String()
	})
}
