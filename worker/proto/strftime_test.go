package proto

import (
	"testing"
	"time"
)

func TestAccessLogStrftime(t *testing.T) {
	zone := time.FixedZone("XST", -(3*3600 + 30*60))
	// Expected values from glibc's strftime (TZ=XST3:30).
	for _, tc := range []struct {
		when time.Time
		want []string // for the formats below, in order
	}{
		{time.Date(2026, 1, 4, 13, 5, 9, 0, zone), []string{
			"Sun Sunday Jan January Jan", "20 04  4 01/04/26 2026-01-04", "26 2026 01",
			"13 01 13  1 05 09 PM pm", "004 01 7 0 01 00", "26 2026 -0330 XST", "1767544509",
			"Sun Jan  4 13:05:09 2026", "01/04/26 13:05:09", "01:05:09 PM 13:05 13:05:09",
			"\n\t%", "26 04 20", "%q %-d", "50%",
		}},
		{time.Date(2027, 1, 1, 0, 7, 3, 0, zone), []string{
			"Fri Friday Jan January Jan", "20 01  1 01/01/27 2027-01-01", "26 2026 53",
			"00 12  0 12 07 03 AM am", "001 01 5 5 00 00", "27 2027 -0330 XST", "1798774623",
			"Fri Jan  1 00:07:03 2027", "01/01/27 00:07:03", "12:07:03 AM 00:07 00:07:03",
			"\n\t%", "27 01 20", "%q %-d", "50%",
		}},
	} {
		formats := []string{
			"%a %A %b %B %h", "%C %d %e %D %F", "%g %G %V", "%H %I %k %l %M %S %p %P",
			"%j %m %u %w %U %W", "%y %Y %z %Z", "%s", "%c", "%x %X", "%r %R %T",
			"%n%t%%", "%Ey %Od %EC", "%q %-d", "50%",
		}
		for i, f := range formats {
			if got := string(compileTimeFormat(f).append(nil, tc.when)); got != tc.want[i] {
				t.Errorf("%s %q = %q, want %q", tc.when, f, got, tc.want[i])
			}
		}
	}
	// Years outside 0..9999 and a positive offset with minutes.
	ist := time.FixedZone("IST", 5*3600+30*60)
	for _, tc := range []struct {
		when   time.Time
		format string
		want   string
	}{
		{time.Date(999, 3, 1, 0, 0, 0, 0, ist), "%Y %C %y %z", "0999 09 99 +0530"},
		{time.Date(12345, 3, 1, 0, 0, 0, 0, time.UTC), "%Y %C %y %z", "12345 123 45 +0000"},
	} {
		if got := string(compileTimeFormat(tc.format).append(nil, tc.when)); got != tc.want {
			t.Errorf("%s %q = %q, want %q", tc.when, tc.format, got, tc.want)
		}
	}
}
