package fcgi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// rec builds the raw bytes of one record by hand, independently of the code
// under test.
func rec(typ, idHi, idLo byte, content string, pad int) []byte {
	n := len(content)
	b := []byte{1, typ, idHi, idLo, byte(n >> 8), byte(n), byte(pad), 0}
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

var appendRecordsTests = []struct {
	name    string
	typ     RecordType
	id      uint16
	content string
	want    []byte
}{
	{"empty record ends a stream", TypeStdin, 1, "", []byte{1, 5, 0, 1, 0, 0, 0, 0}},
	{"one byte, 7 padding", TypeStdout, 1, "x", rec(6, 0, 1, "x", 7)},
	{"five bytes, 3 padding", TypeStdout, 1, "hello", []byte{1, 6, 0, 1, 0, 5, 3, 0, 'h', 'e', 'l', 'l', 'o', 0, 0, 0}},
	{"eight bytes, no padding", TypeStderr, 1, "12345678", rec(7, 0, 1, "12345678", 0)},
	{"nine bytes", TypeParams, 1, "123456789", rec(4, 0, 1, "123456789", 7)},
	{"request id big-endian", TypeData, 0x1234, "ab", rec(8, 0x12, 0x34, "ab", 6)},
	{"management record id 0", TypeGetValues, 0, "", []byte{1, 9, 0, 0, 0, 0, 0, 0}},
	{
		"65535 bytes fit one record",
		TypeStdout, 1, strings.Repeat("a", 65535),
		rec(6, 0, 1, strings.Repeat("a", 65535), 1),
	},
	{
		"65536 bytes split 65535+1",
		TypeStdout, 1, strings.Repeat("a", 65536),
		append(rec(6, 0, 1, strings.Repeat("a", 65535), 1), rec(6, 0, 1, "a", 7)...),
	},
	{
		"131071 bytes split 65535+65535+1",
		TypeStdin, 1, strings.Repeat("b", 131071),
		append(append(rec(5, 0, 1, strings.Repeat("b", 65535), 1),
			rec(5, 0, 1, strings.Repeat("b", 65535), 1)...), rec(5, 0, 1, "b", 7)...),
	},
}

func TestAppendRecords(t *testing.T) {
	for _, tt := range appendRecordsTests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendRecords([]byte("prefix"), tt.typ, tt.id, []byte(tt.content))
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatalf("dst prefix lost")
			}
			got = got[len("prefix"):]
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes %x...\nwant %d bytes %x...", len(got), head(got), len(tt.want), head(tt.want))
			}
			if len(got)%8 != 0 {
				t.Errorf("length %d not 8-aligned", len(got))
			}
			// WriteRecord must agree when the content fits one record.
			if len(tt.content) <= MaxContentSize {
				var w bytes.Buffer
				if err := WriteRecord(&w, tt.typ, tt.id, []byte(tt.content)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(w.Bytes(), tt.want) {
					t.Errorf("WriteRecord differs from AppendRecords")
				}
			}
		})
	}
}

func head(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}

func TestWriteRecordTooLong(t *testing.T) {
	err := WriteRecord(io.Discard, TypeStdout, 1, make([]byte, MaxContentSize+1))
	if err == nil {
		t.Fatal("no error for 65536 bytes of content")
	}
}

var readRecordTests = []struct {
	name    string
	in      []byte
	want    Record
	wantErr error
}{
	{"stdout with padding", rec(6, 0, 1, "hello", 3), Record{TypeStdout, 1, []byte("hello")}, nil},
	{"empty record", []byte{1, 5, 0, 1, 0, 0, 0, 0}, Record{TypeStdin, 1, []byte{}}, nil},
	{"odd padding honored", rec(6, 0, 2, "hi", 200), Record{TypeStdout, 2, []byte("hi")}, nil},
	{"reserved byte ignored", []byte{1, 3, 0, 1, 0, 0, 0, 0xAB}, Record{TypeEndRequest, 1, []byte{}}, nil},
	{"unknown type passed through", rec(42, 0, 0, "", 0), Record{RecordType(42), 0, []byte{}}, nil},
	{"no input", nil, Record{}, io.EOF},
	{"truncated header", []byte{1, 6, 0}, Record{}, io.ErrUnexpectedEOF},
	{"truncated content", []byte{1, 6, 0, 1, 0, 5, 0, 0, 'h', 'i'}, Record{}, io.ErrUnexpectedEOF},
	{"truncated padding", []byte{1, 6, 0, 1, 0, 2, 6, 0, 'h', 'i', 0}, Record{}, io.ErrUnexpectedEOF},
	{"header only, content missing", []byte{1, 6, 0, 1, 0xff, 0xff, 0, 0}, Record{}, io.ErrUnexpectedEOF},
	{"version 0", []byte{0, 6, 0, 1, 0, 0, 0, 0}, Record{}, ErrProtocol},
	{"version 2", []byte{2, 6, 0, 1, 0, 0, 0, 0}, Record{}, ErrProtocol},
	{"HTTP instead of FastCGI", []byte("GET / HTTP/1.1\r\n"), Record{}, ErrProtocol},
}

func TestReadRecord(t *testing.T) {
	for _, tt := range readRecordTests {
		for _, bufSize := range []int{0, 4, 16, MaxRecordSize} {
			buf := make([]byte, bufSize)
			got, err := ReadRecord(bytes.NewReader(tt.in), buf)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s (buf %d): err %v, want %v", tt.name, bufSize, err, tt.wantErr)
				continue
			}
			if err != nil {
				continue
			}
			if got.Type != tt.want.Type || got.RequestID != tt.want.RequestID || !bytes.Equal(got.Content, tt.want.Content) {
				t.Errorf("%s (buf %d): got %+v, want %+v", tt.name, bufSize, got, tt.want)
			}
		}
	}
}

func TestReadRecordUsesBuf(t *testing.T) {
	buf := make([]byte, MaxRecordSize)
	r, err := ReadRecord(bytes.NewReader(rec(6, 0, 1, "hello", 3)), buf)
	if err != nil {
		t.Fatal(err)
	}
	if &r.Content[0] != &buf[HeaderSize] {
		t.Error("Content does not alias buf")
	}
	if cap(r.Content) != len("hello") {
		t.Errorf("cap(Content) = %d: appending would overwrite the padding in buf", cap(r.Content))
	}
	in := rec(6, 0, 1, "hello", 3)
	rd := bytes.NewReader(in)
	allocs := testing.AllocsPerRun(100, func() {
		rd.Reset(in)
		ReadRecord(rd, buf)
	})
	if allocs > 0 {
		t.Errorf("%.0f allocations per ReadRecord with a large buf", allocs)
	}
}

// TestRecordStreamRoundTrip frames streams of many sizes and reads them back.
func TestRecordStreamRoundTrip(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 65534, 65535, 65536, 131070, 131071, 200000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		wire := AppendRecords(nil, TypeStdout, 9, data)
		wire = AppendRecords(wire, TypeStdout, 9, nil)
		r := bytes.NewReader(wire)
		buf := make([]byte, MaxRecordSize)
		var got []byte
		records := 0
		for {
			rec, err := ReadRecord(r, buf)
			if err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			records++
			if rec.Type != TypeStdout || rec.RequestID != 9 {
				t.Fatalf("n=%d: got %v id %d", n, rec.Type, rec.RequestID)
			}
			if len(rec.Content) == 0 {
				break
			}
			got = append(got, rec.Content...)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("n=%d: stream differs", n)
		}
		if want := (n+MaxContentSize-1)/MaxContentSize + 1; records != want {
			t.Errorf("n=%d: %d records, want %d", n, records, want)
		}
		if r.Len() != 0 {
			t.Errorf("n=%d: %d bytes left", n, r.Len())
		}
	}
}

func TestBeginEndRequest(t *testing.T) {
	got := AppendBeginRequest(nil, 1, RoleResponder, true)
	want := []byte{1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("BEGIN_REQUEST keep-conn: %v, want %v", got, want)
	}
	got = AppendBeginRequest(nil, 0x0102, RoleFilter, false)
	want = []byte{1, 1, 1, 2, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("BEGIN_REQUEST filter: %v, want %v", got, want)
	}
	role, keep, err := ParseBeginRequest([]byte{0, 2, 0xff, 9, 9, 9, 9, 9})
	if err != nil || role != RoleAuthorizer || !keep {
		t.Errorf("ParseBeginRequest = %v %v %v", role, keep, err)
	}
	if _, _, err := ParseBeginRequest([]byte{0, 1, 0}); !errors.Is(err, ErrProtocol) {
		t.Errorf("short BEGIN_REQUEST: %v", err)
	}

	got = AppendEndRequest(nil, 1, 0x01020304, StatusOverloaded)
	want = []byte{1, 3, 0, 1, 0, 8, 0, 0, 1, 2, 3, 4, 2, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("END_REQUEST: %v, want %v", got, want)
	}
	// php-fpm leaves stale bytes in the reserved field.
	app, st, err := ParseEndRequest([]byte{0, 0, 0, 7, 3, 'x', 'y', 'z'})
	if err != nil || app != 7 || st != StatusUnknownRole {
		t.Errorf("ParseEndRequest = %v %v %v", app, st, err)
	}
	if _, _, err := ParseEndRequest(make([]byte, 7)); !errors.Is(err, ErrProtocol) {
		t.Errorf("short END_REQUEST: %v", err)
	}

	got = AppendUnknownType(nil, RecordType(42))
	want = []byte{1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("UNKNOWN_TYPE: %v, want %v", got, want)
	}
}

func TestRecordTypeString(t *testing.T) {
	for typ, want := range map[RecordType]string{
		TypeBeginRequest: "BEGIN_REQUEST", TypeUnknownType: "UNKNOWN_TYPE",
		TypeGetValuesResult: "GET_VALUES_RESULT", 0: "type(0)", 12: "type(12)", 255: "type(255)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", typ, got, want)
		}
	}
}

// recordingWriter records each Write call separately.
type recordingWriter struct{ writes [][]byte }

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestStreamWriter(t *testing.T) {
	var w recordingWriter
	s := NewStreamWriter(&w, TypeStdout, 1)
	if n, err := s.Write(nil); n != 0 || err != nil || len(w.writes) != 0 {
		t.Fatalf("empty Write sent %d records (n=%d err=%v): it would end the stream", len(w.writes), n, err)
	}
	if n, err := s.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	big := bytes.Repeat([]byte("z"), 65536)
	if n, err := s.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	want := [][]byte{
		rec(6, 0, 1, "hello", 3),
		rec(6, 0, 1, strings.Repeat("z", 65535), 1),
		rec(6, 0, 1, "z", 7),
		{1, 6, 0, 1, 0, 0, 0, 0},
	}
	if len(w.writes) != len(want) {
		t.Fatalf("%d writes, want %d (one per record)", len(w.writes), len(want))
	}
	for i := range want {
		if !bytes.Equal(w.writes[i], want[i]) {
			t.Errorf("write %d: %x, want %x", i, head(w.writes[i]), head(want[i]))
		}
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestStreamWriterError(t *testing.T) {
	boom := errors.New("boom")
	s := NewStreamWriter(errWriter{boom}, TypeStderr, 1)
	if n, err := s.Write([]byte("x")); n != 0 || err != boom {
		t.Errorf("Write = %d, %v", n, err)
	}
	if err := s.Close(); err != boom {
		t.Errorf("Close = %v", err)
	}
}
