package proto

// This file is the %{format}t of an access format: strftime(3) in the C
// locale, compiled once and formatted without allocating.

import (
	"strconv"
	"time"
)

// timeFormat is a compiled strftime(3) format.
type timeFormat []timePiece

// timePiece is literal text (conv 0) or one conversion.
type timePiece struct {
	conv byte
	lit  string
}

// compileTimeFormat compiles a strftime(3) format for the C locale. The
// composite conversions (%c %D %F %h %r %R %T %x %X) are expanded, the E
// and O modifiers ignored; glibc's flags and field widths are not
// supported, and such a conversion, like an unknown one, is copied as it
// is (as glibc does with an unknown one).
func compileTimeFormat(f string) timeFormat {
	var (
		tf  timeFormat
		lit []byte
	)
	var walk func(f string)
	walk = func(f string) {
		for i := 0; i < len(f); i++ {
			if f[i] != '%' || i+1 == len(f) {
				lit = append(lit, f[i])
				continue
			}
			j := i + 1
			if (f[j] == 'E' || f[j] == 'O') && j+1 < len(f) {
				j++
			}
			c := f[j]
			switch c {
			case 'c':
				walk("%a %b %e %H:%M:%S %Y")
			case 'D', 'x':
				walk("%m/%d/%y")
			case 'F':
				walk("%Y-%m-%d")
			case 'h':
				walk("%b")
			case 'r':
				walk("%I:%M:%S %p")
			case 'R':
				walk("%H:%M")
			case 'T', 'X':
				walk("%H:%M:%S")
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case '%':
				lit = append(lit, '%')
			case 'a', 'A', 'b', 'B', 'C', 'd', 'e', 'g', 'G', 'H', 'I', 'j', 'k', 'l',
				'm', 'M', 'p', 'P', 's', 'S', 'u', 'U', 'V', 'w', 'W', 'y', 'Y', 'z', 'Z':
				if len(lit) > 0 {
					tf = append(tf, timePiece{lit: string(lit)})
					lit = lit[:0]
				}
				tf = append(tf, timePiece{conv: c})
			default:
				lit = append(lit, f[i:j+1]...)
			}
			i = j
		}
	}
	walk(f)
	if len(lit) > 0 {
		tf = append(tf, timePiece{lit: string(lit)})
	}
	return tf
}

var (
	shortDays   = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// append formats t.
func (tf timeFormat) append(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	wday := int(t.Weekday())
	yday := t.YearDay() - 1
	for _, p := range tf {
		switch p.conv {
		case 0:
			b = append(b, p.lit...)
		case 'a':
			b = append(b, shortDays[wday]...)
		case 'A':
			b = append(b, longDays[wday]...)
		case 'b':
			b = append(b, shortMonths[month-1]...)
		case 'B':
			b = append(b, longMonths[month-1]...)
		case 'C':
			b = append2(b, floorDiv(year, 100), '0')
		case 'd':
			b = append2(b, day, '0')
		case 'e':
			b = append2(b, day, ' ')
		case 'g':
			y, _ := t.ISOWeek()
			b = append2(b, y-100*floorDiv(y, 100), '0')
		case 'G':
			y, _ := t.ISOWeek()
			b = appendYear(b, y)
		case 'H':
			b = append2(b, hour, '0')
		case 'I':
			b = append2(b, hour12(hour), '0')
		case 'j':
			b = append(b, byte('0'+(yday+1)/100))
			b = append2(b, (yday+1)%100, '0')
		case 'k':
			b = append2(b, hour, ' ')
		case 'l':
			b = append2(b, hour12(hour), ' ')
		case 'm':
			b = append2(b, int(month), '0')
		case 'M':
			b = append2(b, minute, '0')
		case 'p':
			if hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'P':
			if hour < 12 {
				b = append(b, "am"...)
			} else {
				b = append(b, "pm"...)
			}
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'S':
			b = append2(b, sec, '0')
		case 'u':
			b = append(b, byte('0'+(wday+6)%7+1))
		case 'U':
			b = append2(b, (yday+7-wday)/7, '0')
		case 'V':
			_, w := t.ISOWeek()
			b = append2(b, w, '0')
		case 'w':
			b = append(b, byte('0'+wday))
		case 'W':
			b = append2(b, (yday+7-(wday+6)%7)/7, '0')
		case 'y':
			b = append2(b, year-100*floorDiv(year, 100), '0')
		case 'Y':
			b = appendYear(b, year)
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			b = append2(b, off/3600, '0')
			b = append2(b, off/60%60, '0')
		case 'Z':
			name, _ := t.Zone()
			b = append(b, name...)
		}
	}
	return b
}

// append2 appends 0 ≤ v < 100 on two characters, padded with pad (other
// values in full).
func append2(b []byte, v int, pad byte) []byte {
	if v < 0 || v >= 100 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	if v < 10 {
		return append(b, pad, byte('0'+v))
	}
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func appendYear(b []byte, y int) []byte {
	if y >= 0 && y < 1000 {
		b = append(b, byte('0'+y/100/10))
		b = append(b, byte('0'+y/100%10))
		return append2(b, y%100, '0')
	}
	return strconv.AppendInt(b, int64(y), 10)
}

func hour12(h int) int {
	if h%12 == 0 {
		return 12
	}
	return h % 12
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
