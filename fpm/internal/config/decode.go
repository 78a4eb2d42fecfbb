package config

// The reflection decoder: TOML values into the fields of Config, Pool and
// HTTP by their toml tags, and the TOML forms of Duration, Size and Rlimit.

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// poolOrder lists the pools of a file in the order they first appear.
func poolOrder(md toml.MetaData) []string {
	var order []string
	for _, k := range md.Keys() {
		if len(k) >= 2 && k[0] == "pool" && !slices.Contains(order, k[1]) {
			order = append(order, k[1])
		}
	}
	return order
}

// decodePools fills cfg.Pools and cfg.PoolOrder from the "pool" table;
// order is the order of first appearance (poolOrder, then the included
// files').
func (l *loader) decodePools(cfg *Config, v any, order []string) {
	cfg.Pools = map[string]*Pool{}
	if v == nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.errAt(keyPath{"pool"}, "pool: want [pool.NAME] tables, got %s", describe(v))
		l.pools = 1
		return
	}
	l.pools = len(m)
	// Pools keep the order of their first appearance.
	order = slices.Clone(order)
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, name := range order {
		pm, ok := m[name].(map[string]any)
		if !ok {
			if _, present := m[name]; present {
				l.errAt(keyPath{"pool", name}, "%s: want a [pool.NAME] table, got %s", keyString(keyPath{"pool", name}), describe(m[name]))
			}
			continue
		}
		pc := &Pool{Name: name}
		l.decodeTable(reflect.ValueOf(pc).Elem(), pm, keyPath{"pool", name}, fmt.Sprintf("pool %q: ", name))
		cfg.Pools[name] = pc
		cfg.PoolOrder = append(cfg.PoolOrder, name)
	}
}

// decodeHTTP fills cfg.HTTP from the "http" table and returns the keys set.
func (l *loader) decodeHTTP(cfg *Config, v any) map[string]bool {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.errAt(keyPath{"http"}, "http: want a table, got %s", describe(v))
		return nil
	}
	cfg.HTTP = &HTTP{}
	l.decodeTable(reflect.ValueOf(cfg.HTTP).Elem(), m, keyPath{"http"}, "http: ", "route")
	set := map[string]bool{}
	for k := range m {
		set[k] = true
	}
	rv, ok := m["route"]
	if !ok {
		return set
	}
	var routes []map[string]any
	switch r := rv.(type) {
	case []map[string]any:
		routes = r
	case []any:
		for i, e := range r {
			t, ok := e.(map[string]any)
			if !ok {
				l.errAt(keyPath{"http", "route", "[" + strconv.Itoa(i) + "]"}, "http: route #%d: want a table, got %s", i+1, describe(e))
				t = map[string]any{}
			}
			routes = append(routes, t)
		}
	default:
		l.errAt(keyPath{"http", "route"}, "http: route: want [[http.route]] tables, got %s", describe(rv))
	}
	for i, t := range routes {
		var r HTTPRoute
		l.decodeTable(reflect.ValueOf(&r).Elem(), t, keyPath{"http", "route", "[" + strconv.Itoa(i) + "]"}, fmt.Sprintf("http: route #%d: ", i+1))
		cfg.HTTP.Routes = append(cfg.HTTP.Routes, r)
	}
	return set
}

// decodeTable stores the keys of m into the fields of the struct dst by their
// toml tags. Keys named in special are left to the caller; any other key
// without a field is an unknown key.
func (l *loader) decodeTable(dst reflect.Value, m map[string]any, path keyPath, prefix string, special ...string) {
	fields := map[string][]int{} // a field's index path: embedded structs' keys are the table's own
	var names []string
	var collect func(t reflect.Type, at []int)
	collect = func(t reflect.Type, at []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(slices.Clip(at), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				collect(f.Type, idx)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = idx
			names = append(names, name)
		}
	}
	collect(dst.Type(), nil)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(special, k) {
			continue
		}
		kp := path.add(k)
		i, ok := fields[k]
		if t, isTable := m[k].(map[string]any); isTable && (!ok || dst.FieldByIndex(i).Kind() != reflect.Map) {
			// php-fpm's dotted names ("pm.max_children", "ping.path")
			// become a TOML table; point at the underscore spelling.
			subs := slices.Sorted(maps.Keys(t))
			if slices.ContainsFunc(subs, func(sub string) bool { return slices.Contains(names, k+"_"+sub) }) {
				for _, sub := range subs {
					l.errAt(kp.add(sub), "%s", dottedKey(kp.add(sub), k+"_"+sub, names))
				}
				l.markBroken(kp)
				continue
			}
		}
		if !ok {
			if msg := teachTable(kp, m[k]); msg != "" {
				l.errAt(kp, "%s", msg)
				continue
			}
			msg := fmt.Sprintf("unknown key %q", keyString(kp))
			if s := suggest(k, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			l.errAt(kp, "%s", msg)
			continue
		}
		if sub, msg := assign(dst.FieldByIndex(i), m[k]); msg != "" {
			l.errAt(kp.add(sub...), "%s%s: %s", prefix, keyString(append(keyPath{k}, sub...)), msg)
			l.markBroken(kp)
		}
	}
}

// markBroken notes that the value at path could not be decoded.
func (l *loader) markBroken(path keyPath) {
	if l.broken == nil {
		l.broken = map[string]bool{}
	}
	l.broken[path.id()] = true
}

// assign stores the decoded TOML value v into dst. On a type mismatch it
// returns a message, and the sub-key it concerns for tables.
func assign(dst reflect.Value, v any) (sub []string, msg string) {
	switch p := dst.Addr().Interface().(type) {
	case *Duration:
		if err := p.UnmarshalTOML(v); err != nil {
			return nil, err.Error()
		}
	case *Size:
		if err := p.UnmarshalTOML(v); err != nil {
			return nil, err.Error()
		}
	case **Rlimit:
		r := new(Rlimit)
		if err := r.UnmarshalTOML(v); err != nil {
			return nil, err.Error()
		}
		*p = r
	case *string:
		s, ok := v.(string)
		if !ok {
			return nil, "want a string, got " + describe(v)
		}
		*p = s
	case *int:
		n, ok := v.(int64)
		if !ok {
			return nil, "want an integer, got " + describe(v)
		}
		if int64(int(n)) != n {
			return nil, fmt.Sprintf("%d is out of range", n)
		}
		*p = int(n)
	case *bool:
		b, ok := v.(bool)
		if !ok {
			return nil, "want true or false, got " + describe(v)
		}
		*p = b
	case **bool:
		b, ok := v.(bool)
		if !ok {
			return nil, "want true or false, got " + describe(v)
		}
		*p = &b
	case *[]string:
		arr, ok := v.([]any)
		if !ok {
			return nil, "want an array of strings, got " + describe(v)
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, "want an array of strings, got an array holding " + describe(e)
			}
			out = append(out, s)
		}
		*p = out
	case *map[string]string:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "want a table of strings, got " + describe(v)
		}
		out := make(map[string]string, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s, ok := m[k].(string)
			if !ok {
				return []string{k}, "want a string, got " + describe(m[k])
			}
			out[k] = s
		}
		*p = out
	case *PHPValues:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "want a table of PHP settings (name = \"value\"), got " + describe(v)
		}
		out := make(PHPValues, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			switch x := m[k].(type) {
			case string:
				out[k] = x
			case int64:
				out[k] = strconv.FormatInt(x, 10)
			case bool:
				out[k] = map[bool]string{true: "1", false: "0"}[x]
			default:
				return []string{k}, "want a string (or an integer, or true/false), got " + describe(m[k])
			}
		}
		*p = out
	case *PHPFlags:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "want a table of PHP flags (name = true), got " + describe(v)
		}
		out := make(PHPFlags, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			b, ok := m[k].(bool)
			if !ok {
				return []string{k}, "want true or false, got " + describe(m[k])
			}
			out[k] = b
		}
		*p = out
	default:
		return nil, fmt.Sprintf("cannot store a value of type %s", dst.Type())
	}
	return nil, ""
}

// describe names the TOML type of v for "want X, got Y" messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// UnmarshalTOML implements toml.Unmarshaler. It accepts a string in Go
// syntax ("10s", "1m30s", "500ms"), a string of digits or an integer meaning
// seconds, and php-fpm's day suffix ("1d"). Negative durations are refused.
func (d *Duration) UnmarshalTOML(v any) error {
	var secs int64
	switch x := v.(type) {
	case int64:
		secs = x
	case string:
		s := strings.TrimSpace(x)
		if n, ok := digits(s); ok {
			secs = n
			break
		}
		if n, ok := digits(strings.TrimSuffix(s, "d")); ok && strings.HasSuffix(s, "d") {
			if n > math.MaxInt64/int64(24*time.Hour) {
				return fmt.Errorf("duration %q is too long", x)
			}
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want \"10s\", \"500ms\" or a number of seconds)", x)
		}
		if dur < 0 {
			return fmt.Errorf("duration %q must not be negative", x)
		}
		*d = Duration(dur)
		return nil
	default:
		return fmt.Errorf("want a duration (\"10s\" or a number of seconds), got %s", describe(v))
	}
	if secs < 0 {
		return fmt.Errorf("duration %d must not be negative", secs)
	}
	if secs > math.MaxInt64/int64(time.Second) {
		return fmt.Errorf("duration %d is too long", secs)
	}
	*d = Duration(time.Duration(secs) * time.Second)
	return nil
}

// sizeUnits are the suffixes Size accepts. IEC units (KiB) and php.ini's
// one-letter shorthands (K, M, G, lower case too) are powers of 1024; SI
// units (KB, MB, GB) are powers of 1000.
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "k": 1 << 10, "KiB": 1 << 10,
	"M": 1 << 20, "m": 1 << 20, "MiB": 1 << 20,
	"G": 1 << 30, "g": 1 << 30, "GiB": 1 << 30,
	"T": 1 << 40, "t": 1 << 40, "TiB": 1 << 40,
	"KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
}

// UnmarshalTOML implements toml.Unmarshaler. It accepts an integer (bytes) or
// a string: digits, optional spaces, then a unit from sizeUnits ("64MiB",
// "512KiB", "1GiB", "10MB", "128M", "1k", "4096"). Negative sizes are refused.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("size %d must not be negative", x)
		}
		*s = Size(x)
		return nil
	case string:
		t := strings.TrimSpace(x)
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		n, ok := digits(t[:i])
		mult, known := sizeUnits[strings.TrimSpace(t[i:])]
		if strings.HasPrefix(t, "-") {
			return fmt.Errorf("size %q must not be negative", x)
		}
		if !ok || !known {
			return fmt.Errorf("invalid size %q (want a number of bytes, or a number with KiB, MiB, GiB, KB, MB, GB, K, M or G)", x)
		}
		if n > math.MaxInt64/mult {
			return fmt.Errorf("size %q is too large", x)
		}
		*s = Size(n * mult)
		return nil
	}
	return fmt.Errorf("want a size (bytes, or a string like \"64MiB\"), got %s", describe(v))
}

// UnmarshalTOML implements toml.Unmarshaler: an integer >= 0, -1 or the
// string "unlimited" (php-fpm's spelling; stored as -1).
func (r *Rlimit) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < -1 {
			return fmt.Errorf("%d must be -1 (unlimited) or more", x)
		}
		*r = Rlimit(x)
		return nil
	case string:
		if strings.EqualFold(strings.TrimSpace(x), "unlimited") {
			*r = -1
			return nil
		}
	}
	return fmt.Errorf("want an integer or \"unlimited\", got %s", describe(v))
}

// digits parses a non-empty string of ASCII digits.
func digits(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
