package dispatch

import "hash/maphash"

// strCache turns a param's bytes into a string, handing back the string
// made for the same bytes before when it is still in its slot. The values
// the dispatcher keeps of every request (method, script, client address,
// the URI on a site with few of them) mostly repeat from one request to the
// next, so most requests allocate none; a value seen for the first time
// costs its one string, as before. Each connection's buffers carry one, so
// it needs no lock; its size is bounded (slots × strCacheMax bytes).
type strCache struct {
	seed  maphash.Seed
	slots [strCacheSlots]string
}

const (
	strCacheSlots = 32
	strCacheMax   = 256 // longer values are made each time, not kept
)

func newStrCache() *strCache { return &strCache{seed: maphash.MakeSeed()} }

// get returns b as a string.
func (c *strCache) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > strCacheMax {
		return string(b)
	}
	i := maphash.Bytes(c.seed, b) % strCacheSlots
	if s := c.slots[i]; s == string(b) {
		return s
	}
	s := string(b)
	c.slots[i] = s
	return s
}
