package fpm

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/gofpm/gofpm/fpm/internal/config"
)

// TestClientOf: which address the front believes for REMOTE_ADDR.
func TestClientOf(t *testing.T) {
	var trusted []netip.Prefix
	for _, s := range []string{"127.0.0.0/8", "10.0.0.1", "::1"} {
		p, err := config.ParseTrusted(s)
		if err != nil {
			t.Fatal(err)
		}
		trusted = append(trusted, p)
	}
	for _, tc := range []struct {
		name, peer, xff, proto string
		want                   string
		https                  bool
	}{
		{"untrusted peer: headers ignored", "192.0.2.1:5000", "203.0.113.7", "https", "", false},
		{"trusted peer, one hop", "127.0.0.1:5000", "203.0.113.7", "", "203.0.113.7:0", false},
		{"rightmost untrusted wins", "127.0.0.1:5000", "198.51.100.9, 203.0.113.7, 10.0.0.1", "https", "203.0.113.7:0", true},
		{"all hops trusted: the leftmost", "127.0.0.1:5000", "10.0.0.1, 127.0.0.2", "", "10.0.0.1:0", false},
		{"garbage stops the walk", "127.0.0.1:5000", "203.0.113.7, bogus, 10.0.0.1", "", "10.0.0.1:0", false},
		{"no header: the peer stays", "127.0.0.1:5000", "", "", "", false},
		{"v6 peer", "[::1]:5000", "2001:db8::5", "HTTPS", "[2001:db8::5]:0", true},
		{"v4-mapped hop", "127.0.0.1:5000", "::ffff:203.0.113.8", "", "203.0.113.8:0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &front{trusted: trusted}
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			got, https := f.clientOf(r)
			if got != tc.want || https != tc.https {
				t.Fatalf("clientOf = %q, %v; want %q, %v", got, https, tc.want, tc.https)
			}
		})
	}
	if _, err := config.ParseTrusted("10.0.0.0/33"); err == nil {
		t.Fatal("10.0.0.0/33 accepted")
	}
	if _, err := config.ParseTrusted("example.com"); err == nil {
		t.Fatal("a host name accepted")
	}
}
