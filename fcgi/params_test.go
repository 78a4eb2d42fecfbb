package fcgi

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
)

var sizeTests = []struct {
	size    int
	encoded []byte
}{
	{0, []byte{0}},
	{1, []byte{1}},
	{127, []byte{0x7f}},
	{128, []byte{0x80, 0, 0, 0x80}},
	{255, []byte{0x80, 0, 0, 0xff}},
	{65535, []byte{0x80, 0, 0xff, 0xff}},
	{0x01020304, []byte{0x81, 2, 3, 4}},
	{1<<31 - 1, []byte{0xff, 0xff, 0xff, 0xff}},
}

func TestSize(t *testing.T) {
	for _, tt := range sizeTests {
		if got := appendSize(nil, tt.size); !bytes.Equal(got, tt.encoded) {
			t.Errorf("appendSize(%d) = %x, want %x", tt.size, got, tt.encoded)
		}
		size, n, ok := readSize(append(tt.encoded, 0xAA))
		if !ok || size != tt.size || n != len(tt.encoded) {
			t.Errorf("readSize(%x) = %d, %d, %v", tt.encoded, size, n, ok)
		}
	}
	for _, short := range [][]byte{nil, {0x80}, {0x80, 0}, {0xff, 0xff, 0xff}} {
		if _, _, ok := readSize(short); ok {
			t.Errorf("readSize(%x) ok", short)
		}
	}
}

func TestAppendPair(t *testing.T) {
	long := strings.Repeat("n", 128)
	tests := []struct {
		name, value string
		want        []byte
	}{
		{"A", "b", []byte{1, 1, 'A', 'b'}},
		{"EMPTY", "", []byte{5, 0, 'E', 'M', 'P', 'T', 'Y'}},
		{long, "v", append(append([]byte{0x80, 0, 0, 128, 1}, long...), 'v')},
		{"k", long, append([]byte{1, 0x80, 0, 0, 128, 'k'}, long...)},
	}
	for _, tt := range tests {
		if got := AppendPair(nil, tt.name, tt.value); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendPair(%.10q, %.10q) = %x, want %x", tt.name, tt.value, head(got), head(tt.want))
		}
	}
}

var readPairsTests = []struct {
	name    string
	in      []byte
	limit   int
	want    map[string]string
	wantErr error
}{
	{"empty input", nil, 0, map[string]string{}, nil},
	{"one pair", []byte{1, 1, 'A', 'b'}, 0, map[string]string{"A": "b"}, nil},
	{"empty name and value", []byte{0, 0}, 0, map[string]string{"": ""}, nil},
	{
		"php-fpm GET_VALUES_RESULT payload", []byte("\x0f\x01FCGI_MPXS_CONNS0"), 0,
		map[string]string{"FCGI_MPXS_CONNS": "0"}, nil,
	},
	{"two pairs", []byte{1, 1, 'A', 'b', 1, 0, 'C'}, 0, map[string]string{"A": "b", "C": ""}, nil},
	{"repeated name: last wins", []byte{1, 1, 'A', 'b', 1, 1, 'A', 'c'}, 0, map[string]string{"A": "c"}, nil},
	{
		"4-byte lengths", append(append([]byte{0x80, 0, 0, 1, 0x80, 0, 0, 2}, 'k'), "vv"...), 0,
		map[string]string{"k": "vv"}, nil,
	},
	{"exactly at the limit", []byte{1, 1, 'A', 'b'}, 4, map[string]string{"A": "b"}, nil},
	{"over the limit", []byte{1, 1, 'A', 'b'}, 3, nil, ErrParamsTooLarge},
	{"truncated name length", []byte{0x80, 0}, 0, nil, ErrProtocol},
	{"missing value length", []byte{1}, 0, nil, ErrProtocol},
	{"truncated value length", []byte{1, 0x80, 0, 0}, 0, nil, ErrProtocol},
	{"name longer than input", []byte{5, 0, 'a', 'b'}, 0, nil, ErrProtocol},
	{"value longer than input", []byte{1, 5, 'a', 'b'}, 0, nil, ErrProtocol},
	{"name+value longer than input", []byte{2, 2, 'a', 'b', 'c'}, 0, nil, ErrProtocol},
	// A hostile peer claims 2 GiB: must fail without allocating it.
	{"2 GiB name", []byte{0xff, 0xff, 0xff, 0xff, 0, 'x'}, 0, nil, ErrProtocol},
	{"2 GiB value", []byte{1, 0xff, 0xff, 0xff, 0xff, 'x'}, 0, nil, ErrProtocol},
	{"valid pair then garbage", []byte{1, 1, 'A', 'b', 0x80}, 0, nil, ErrProtocol},
}

func TestReadPairs(t *testing.T) {
	for _, tt := range readPairsTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPairs(tt.in, tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if got != nil {
					t.Errorf("partial map %v returned with an error", got)
				}
				return
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPairsRoundTrip(t *testing.T) {
	m := map[string]string{
		"SCRIPT_FILENAME":                       "/var/www/index.php",
		"QUERY_STRING":                          "",
		"LONG_NAME_" + strings.Repeat("X", 200): "v",
		"LONG_VALUE":                            strings.Repeat("y", 70000),
		"":                                      "empty name",
	}
	b := AppendPairs(nil, m)
	got, err := ReadPairs(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, m) {
		t.Error("round trip differs")
	}
	// Pairs straddling record boundaries: frame, then reassemble the stream.
	wire := AppendRecords(nil, TypeParams, 1, b)
	r := bytes.NewReader(wire)
	var stream []byte
	for r.Len() > 0 {
		rec, err := ReadRecord(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, rec.Content...)
	}
	if got, err := ReadPairs(stream, 0); err != nil || !maps.Equal(got, m) {
		t.Errorf("reassembled stream: %v", err)
	}
}

func TestReadPairsAllocs(t *testing.T) {
	b := AppendPairs(nil, map[string]string{"A": "1", "B": "2", "C": "3", "D": "4"})
	allocs := testing.AllocsPerRun(100, func() { ReadPairs(b, 0) })
	if allocs > 3 { // map header, its table, the shared string
		t.Errorf("%.0f allocations, want at most 3", allocs)
	}
}
