package dispatch

import (
	"fmt"
	"strings"
	"testing"
)

func TestStrCache(t *testing.T) {
	c := newStrCache()
	buf := []byte("GET")
	if got := c.get(buf); got != "GET" {
		t.Fatalf("get = %q", got)
	}
	copy(buf, "PUT") // the cached string does not alias the caller's bytes
	if got := c.get([]byte("GET")); got != "GET" {
		t.Fatalf("after the bytes changed: get = %q", got)
	}
	if got := c.get(buf); got != "PUT" {
		t.Fatalf("get = %q", got)
	}
	// More values than slots: every answer is still its own value.
	for i := range 10 * strCacheSlots {
		v := fmt.Sprintf("/index.php/%d", i)
		if got := c.get([]byte(v)); got != v {
			t.Fatalf("get(%q) = %q", v, got)
		}
	}
	long := strings.Repeat("x", strCacheMax+1)
	if got := c.get([]byte(long)); got != long {
		t.Fatal("a long value came back changed")
	}
	if c.get(nil) != "" || c.get([]byte{}) != "" {
		t.Fatal("empty value")
	}
}

func TestStrCacheHitAllocatesNothing(t *testing.T) {
	c := newStrCache()
	b := []byte("/srv/www/index.php")
	c.get(b)
	if n := testing.AllocsPerRun(100, func() { c.get(b) }); n != 0 {
		t.Fatalf("a repeated value allocated %.0f times", n)
	}
	long := []byte(strings.Repeat("x", strCacheMax+1))
	if n := testing.AllocsPerRun(100, func() { c.get(long) }); n != 1 {
		t.Fatalf("a value too long to keep: %.0f allocations, want its one string", n)
	}
}
