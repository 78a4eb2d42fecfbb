package fpm

import (
	"slices"
	"testing"
)

// TestPHPArgs: a PHP command gets -d cgi.fix_pathinfo=0 right after the
// program, unless it sets cgi.fix_pathinfo itself in either -d form.
func TestPHPArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"php-cgi"}, []string{"php-cgi", "-d", "cgi.fix_pathinfo=0"}},
		{[]string{"php-cgi", "-c", "/etc/php.ini"}, []string{"php-cgi", "-d", "cgi.fix_pathinfo=0", "-c", "/etc/php.ini"}},
		{[]string{"php-cgi", "-d", "cgi.fix_pathinfo=1"}, []string{"php-cgi", "-d", "cgi.fix_pathinfo=1"}},
		{[]string{"php-cgi", "-dcgi.fix_pathinfo=1"}, []string{"php-cgi", "-dcgi.fix_pathinfo=1"}},
	} {
		if got := phpArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("phpArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
