package dispatch

import (
	"bufio"
	"net"
	"path/filepath"
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// rawWorker answers every request on its connections with what answer
// returns (records for request id 1), and closes the connection after it
// when last; it reads with a fixed buffer and allocates nothing per
// request, so what -benchmem shows is the dispatcher's.
func rawWorker(tb testing.TB, addr string, answer func() (recs []byte, last bool)) {
	ln, err := net.Listen("unix", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				buf := make([]byte, fcgi.MaxRecordSize)
				for {
					rec, err := fcgi.ReadRecord(br, buf)
					if err != nil {
						return
					}
					if rec.Type == fcgi.TypeStdin && len(rec.Content) == 0 {
						a, last := answer()
						if _, err := c.Write(a); err != nil || last {
							return
						}
					}
				}
			}()
		}
	}()
}

// benchRelay relays b.N requests on one kept client connection to one
// worker whose answer is records STDOUT records of size bytes each.
func benchRelay(b *testing.B, records, size int) {
	dir := b.TempDir()
	d := New(Config{MaxQueue: 16})
	ln, err := net.Listen("unix", filepath.Join(dir, "pool.sock"))
	if err != nil {
		b.Fatal(err)
	}
	go d.Serve(ln)
	defer d.Shutdown(b.Context())
	chunk := make([]byte, size)
	copy(chunk, "Content-Type: text/plain\r\n\r\n")
	var answer []byte
	for i := 0; i < records; i++ {
		answer = fcgi.AppendRecords(answer, fcgi.TypeStdout, 1, chunk)
	}
	answer = fcgi.AppendRecords(answer, fcgi.TypeStdout, 1, nil)
	answer = fcgi.AppendEndRequest(answer, 1, 0, fcgi.StatusRequestComplete)
	waddr := filepath.Join(dir, "w.sock")
	rawWorker(b, waddr, func() ([]byte, bool) { return answer, false })
	d.AddWorker(1, waddr, 0)

	req := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, true)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, params("GET", "/hello.php", "/srv/hello.php")))
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, nil)
	req = fcgi.AppendRecords(req, fcgi.TypeStdin, 1, nil)
	c, err := net.Dial("unix", filepath.Join(dir, "pool.sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, fcgi.MaxRecordSize)
	b.SetBytes(int64(records * size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for {
			rec, err := fcgi.ReadRecord(br, buf)
			if err != nil {
				b.Fatal(err)
			}
			if rec.Type == fcgi.TypeEndRequest {
				break
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(records), "records/op")
}

// BenchmarkRelaySmall is one small answer per request: the per-request
// cost (the params are decoded into a map, once per request).
func BenchmarkRelaySmall(b *testing.B) { benchRelay(b, 1, 64) }

// BenchmarkRelayRecords is 64 STDOUT records of 4 KiB per request: its
// allocs/op equal BenchmarkRelaySmall's, so a relayed record costs none.
func BenchmarkRelayRecords(b *testing.B) { benchRelay(b, 64, 4096) }
