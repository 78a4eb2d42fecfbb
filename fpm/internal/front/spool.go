package front

// This file is the spool: a first-in first-out buffer of bytes, in
// memory up to a limit and then in a temp file, that one goroutine fills
// while another drains it (an answer), or that is filled and then read
// (a request body).

import (
	"errors"
	"os"
	"sync"
)

var errSpoolClosed = errors.New("http: buffer closed")

// chunk is a buffer of copyBufs, filled up to n.
type chunk struct {
	p *[]byte
	n int
}

// spool holds its bytes in order: first the memory chunks, from off in
// the first one, then the file from fr to fw. While the file holds
// anything, new bytes go to the file too, so the order stays; once the
// reader has caught up with the file, it is emptied and memory is used
// again.
type spool struct {
	b     *buffers
	limit int64 // memory this spool may hold

	mu     sync.Mutex
	mem    []chunk
	off    int   // read offset in mem[0]
	held   int64 // bytes of chunks held
	f      *os.File
	fr, fw int64
	size   int64 // bytes written in all
	end    error // the writer's end: io.EOF, or why it failed
	closed bool
	ready  chan struct{} // a token when bytes or the end arrive

	// fileMax, when above 0, bounds the size of the file: past it Write
	// waits until the reader has caught up with the file, which empties
	// it (nginx's fastcgi_max_temp_file_size), so a client that reads an
	// endless answer slowly cannot fill the disk.
	fileMax int64
	room    chan struct{} // a token when the reader took bytes from the file; closed by Close
}

func newSpool(b *buffers, limit int64) *spool {
	return &spool{b: b, limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

func (sp *spool) signal() {
	select {
	case sp.ready <- struct{}{}:
	default:
	}
}

// Write appends p, to memory while the spool and the front have some to
// spare, else to the temp file.
func (sp *spool) Write(p []byte) (int, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return 0, errSpoolClosed
	}
	n := len(p)
	for len(p) > 0 && sp.fw == sp.fr {
		if k := len(sp.mem); k > 0 && sp.mem[k-1].n < chunkSize {
			c := &sp.mem[k-1]
			m := copy((*c.p)[c.n:], p)
			c.n += m
			p = p[m:]
			continue
		}
		if sp.held+chunkSize > sp.limit || !sp.b.take() {
			break
		}
		sp.mem = append(sp.mem, chunk{p: copyBufs.Get().(*[]byte)})
		sp.held += chunkSize
	}
	for len(p) > 0 && sp.fileMax > 0 && sp.fw > sp.fr && sp.fw+int64(len(p)) > sp.fileMax {
		sp.mu.Unlock()
		<-sp.room
		sp.mu.Lock()
		if sp.closed {
			return n - len(p), errSpoolClosed
		}
	}
	if len(p) > 0 {
		if sp.f == nil {
			f, err := sp.b.tempFile()
			if err != nil {
				return n - len(p), err
			}
			sp.f = f
		}
		m, err := sp.f.WriteAt(p, sp.fw)
		sp.fw += int64(m)
		if err != nil {
			sp.size += int64(n - len(p) + m)
			return n - len(p) + m, err
		}
	}
	sp.size += int64(n)
	sp.signal()
	return n, nil
}

// finish records the writer's end: io.EOF when all is written.
func (sp *spool) finish(err error) {
	sp.mu.Lock()
	if sp.end == nil {
		sp.end = err
	}
	sp.mu.Unlock()
	sp.signal()
}

// Read takes the oldest bytes. With none, it returns 0 and the writer's
// end: nil while the writer goes on (wait on ready), io.EOF after all.
func (sp *spool) Read(p []byte) (int, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return 0, errSpoolClosed
	}
	if len(sp.mem) > 0 {
		c := sp.mem[0]
		n := copy(p, (*c.p)[sp.off:c.n])
		sp.off += n
		if sp.off == c.n && (c.n == chunkSize || len(sp.mem) > 1) {
			sp.drop()
		}
		if n > 0 {
			return n, nil
		}
	}
	if sp.fw > sp.fr {
		n, err := sp.f.ReadAt(p[:min(int64(len(p)), sp.fw-sp.fr)], sp.fr)
		sp.fr += int64(n)
		select {
		case sp.room <- struct{}{}:
		default:
		}
		if sp.fr == sp.fw {
			sp.fr, sp.fw = 0, 0
			sp.f.Truncate(0) // caught up: give the disk space back
		}
		if n > 0 {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, sp.end
}

// drop frees the first chunk, read to its end.
func (sp *spool) drop() {
	copyBufs.Put(sp.mem[0].p)
	sp.mem[0] = chunk{}
	sp.mem = sp.mem[1:]
	sp.off = 0
	sp.held -= chunkSize
	sp.b.give()
}

// Len is what is left to read; it marks a complete request body as one
// the FastCGI client may send with its params in one write.
func (sp *spool) Len() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	n := sp.fw - sp.fr - int64(sp.off)
	for _, c := range sp.mem {
		n += int64(c.n)
	}
	return int(n)
}

// Close frees the memory and the file; Read and Write fail after it.
func (sp *spool) Close() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil
	}
	sp.closed = true
	close(sp.room)
	for len(sp.mem) > 0 {
		sp.drop()
	}
	if sp.f != nil {
		sp.f.Close()
	}
	return nil
}
