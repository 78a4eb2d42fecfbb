package fpm

import (
	"net/netip"
	"testing"
)

// TestParseTrusted: trusted_proxies entries as the front gets them (its
// TestClientOf uses these prefixes).
func TestParseTrusted(t *testing.T) {
	for s, want := range map[string]netip.Prefix{
		"127.0.0.0/8": netip.MustParsePrefix("127.0.0.0/8"),
		"10.0.0.1":    netip.MustParsePrefix("10.0.0.1/32"),
		"::1":         netip.MustParsePrefix("::1/128"),
	} {
		p, err := parseTrusted(s)
		if err != nil {
			t.Fatal(err)
		}
		if p != want {
			t.Errorf("parseTrusted(%q) = %v, want %v", s, p, want)
		}
	}
	if _, err := parseTrusted("10.0.0.0/33"); err == nil {
		t.Fatal("10.0.0.0/33 accepted")
	}
	if _, err := parseTrusted("example.com"); err == nil {
		t.Fatal("a host name accepted")
	}
}
