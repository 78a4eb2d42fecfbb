package fcgi

// This file encodes and decodes name-value pairs, the content of the PARAMS
// stream and of GET_VALUES and GET_VALUES_RESULT records. Each pair is
// nameLength, valueLength, name, value; a length below 128 takes one byte,
// anything longer takes four bytes with the top bit set.

import (
	"encoding/binary"
	"fmt"
	"math"
)

// appendSize appends one pair length.
func appendSize(dst []byte, n int) []byte {
	if n < 0x80 {
		return append(dst, byte(n))
	}
	if n > math.MaxInt32 {
		panic("fcgi: name or value longer than 2^31-1 bytes")
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)|1<<31)
}

// readSize decodes the pair length at the start of b and returns it with the
// number of bytes it took, or ok == false when b is too short.
func readSize(b []byte) (size, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, true
	}
	if len(b) < 4 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(b) &^ (1 << 31)), 4, true
}

// AppendPair appends one encoded name-value pair to dst. It panics if name or
// value is longer than 2^31-1 bytes, which the encoding cannot express.
func AppendPair(dst []byte, name, value string) []byte {
	dst = appendSize(dst, len(name))
	dst = appendSize(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

// AppendPairs appends every pair of m to dst, in map order. A stream of pairs
// may be split across records anywhere, even inside a length; AppendRecords
// does the split.
func AppendPairs(dst []byte, m map[string]string) []byte {
	for k, v := range m {
		dst = AppendPair(dst, k, v)
	}
	return dst
}

// ReadPairs decodes the name-value pairs in b, typically the concatenated
// content of a PARAMS stream, or of one GET_VALUES(_RESULT) record. When a
// name repeats, the last value wins.
//
// b comes from the peer, so every length is checked against what is left of
// b, and b longer than limit (when limit > 0) is refused with
// ErrParamsTooLarge before anything is allocated. Callers that assemble b
// from a stream should stop at the same limit. Memory use is linear in len(b):
// the input is validated and counted first, then copied into one string that
// the names and values share, and the map is sized once.
func ReadPairs(b []byte, limit int) (map[string]string, error) {
	count, err := countPairs(b, limit)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, count)
	s := string(b)
	for off := 0; off < len(b); {
		// Lengths were validated above.
		nameLen, n1, _ := readSize(b[off:])
		off += n1
		valueLen, n2, _ := readSize(b[off:])
		off += n2
		m[s[off:off+nameLen]] = s[off+nameLen : off+nameLen+valueLen]
		off += nameLen + valueLen
	}
	return m, nil
}

// countPairs validates the pairs in b and returns how many there are.
func countPairs(b []byte, limit int) (int, error) {
	if limit > 0 && len(b) > limit {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrParamsTooLarge, len(b), limit)
	}
	count := 0
	for rest := b; len(rest) > 0; count++ {
		nameLen, n1, ok := readSize(rest)
		if !ok {
			return 0, fmt.Errorf("%w: truncated name length", ErrProtocol)
		}
		rest = rest[n1:]
		valueLen, n2, ok := readSize(rest)
		if !ok {
			return 0, fmt.Errorf("%w: truncated value length", ErrProtocol)
		}
		rest = rest[n2:]
		if nameLen > len(rest) || valueLen > len(rest)-nameLen {
			return 0, fmt.Errorf("%w: pair of %d+%d bytes exceeds the %d bytes left", ErrProtocol, nameLen, valueLen, len(rest))
		}
		rest = rest[nameLen+valueLen:]
	}
	return count, nil
}

// ScanPairs is ReadPairs without the map: it validates b as ReadPairs does
// and, only when b is valid, calls fn for each pair in order (so when a
// name repeats, the last call is the value ReadPairs keeps). name and value
// alias b. It allocates nothing, for callers on a per-request path that
// want a few params, not all of them.
func ScanPairs(b []byte, limit int, fn func(name, value []byte)) error {
	if _, err := countPairs(b, limit); err != nil {
		return err
	}
	for off := 0; off < len(b); {
		nameLen, n1, _ := readSize(b[off:])
		off += n1
		valueLen, n2, _ := readSize(b[off:])
		off += n2
		fn(b[off:off+nameLen], b[off+nameLen:off+nameLen+valueLen])
		off += nameLen + valueLen
	}
	return nil
}
