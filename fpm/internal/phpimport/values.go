package phpimport

// php-fpm's value syntax: numbers, rlimit_core, booleans, times, atoi.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseInt reads an integer as php-fpm does: an optional "-", then digits
// (the empty string is 0).
func parseInt(s string) (int, error) {
	t := strings.TrimPrefix(s, "-")
	if strings.Trim(t, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a valid number (greater or equal than zero)", s)
	}
	if t == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return int(n), nil
}

// parseRlimitCore reads rlimit_core: a number >= 0 or "unlimited" (-1).
func parseRlimitCore(s string) (int, error) {
	if strings.EqualFold(s, "unlimited") {
		return -1, nil
	}
	n, err := parseInt(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("must be greater than zero or 'unlimited'")
	}
	return n, nil
}

// parseBool reads a boolean as php-fpm 8.2 does, after the ini parser has
// already turned bare yes/no words into "1" and "".
func parseBool(s string) (bool, error) {
	switch s {
	case "1", "yes", "true", "on":
		return true, nil
	case "", "0", "no", "none", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean value %q", s)
}

// parseTime reads a php-fpm time (a number with an optional s, m, h or d
// suffix, read with atoi) and returns it in seconds and as a TOML duration
// string in the same unit.
func parseTime(s string) (secs int64, lit string, err error) {
	if s == "" {
		return 0, "", errors.New("invalid time value")
	}
	num, unit, mult := s, "s", int64(1)
	switch s[len(s)-1] {
	case 's':
		num = s[:len(s)-1]
	case 'm':
		num, unit, mult = s[:len(s)-1], "m", 60
	case 'h':
		num, unit, mult = s[:len(s)-1], "h", 3600
	case 'd':
		num, unit, mult = s[:len(s)-1], "h", 86400
	default:
		if c := s[len(s)-1]; c < '0' || c > '9' {
			return 0, "", fmt.Errorf("unknown suffix used in time value %q", s)
		}
	}
	n := int64(atoi(num))
	if n < 0 {
		return 0, "", fmt.Errorf("negative time value %q", s)
	}
	secs = n * mult
	if secs > math.MaxInt32 {
		return 0, "", fmt.Errorf("time value %q is too large", s)
	}
	shown := n
	if mult == 86400 {
		shown = n * 24
	}
	return secs, tomlString(strconv.FormatInt(shown, 10) + unit), nil
}

// atoi is C's atoi as glibc has it: (int)strtol(s, NULL, 10).
func atoi(s string) int32 {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := int64(s[i] - '0')
		if neg {
			if n < (math.MinInt64+d)/10 {
				n = math.MinInt64
				continue
			}
			n = n*10 - d
		} else {
			if n > (math.MaxInt64-d)/10 {
				n = math.MaxInt64
				continue
			}
			n = n*10 + d
		}
	}
	return int32(n)
}

func isSyslogFacility(s string) bool {
	for _, f := range []string{"AUTH", "AUTHPRIV", "CRON", "DAEMON", "FTP", "KERN", "LPR", "MAIL", "NEWS",
		"SYSLOG", "USER", "UUCP", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"} {
		if strings.EqualFold(s, f) {
			return true
		}
	}
	return false
}
