package fpm

// Workers' output in a JSON error log: a line a worker writes that is
// itself a JSON object (the habit of slog, zap, zerolog, logrus, pino,
// monolog's JsonFormatter) stays an object, under "line", instead of an
// escaped string inside "message", and is logged at its own level when it
// has one ("level", "severity" or "lvl"); otherwise at warning, as
// php-fpm logs every captured line.

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/rs/zerolog"
)

// emitJSON logs line as an object and reports whether it was one.
func (o *outputCatcher) emitJSON(pid int, stream string, line []byte) bool {
	t := bytes.TrimSpace(line)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' || !json.Valid(t) {
		return false
	}
	var head struct {
		Level    json.RawMessage `json:"level"`
		Severity json.RawMessage `json:"severity"`
		Lvl      json.RawMessage `json:"lvl"`
		Message  *string         `json:"message"`
		Msg      *string         `json:"msg"`
	}
	json.Unmarshal(t, &head) // valid JSON: fields of other types are left out
	lvl := zerolog.WarnLevel
	for _, raw := range []json.RawMessage{head.Level, head.Severity, head.Lvl} {
		if l, ok := workerLevel(raw); ok {
			lvl = l
			break
		}
	}
	ev := o.log.WithLevel(lvl).Int("pid", pid).Str("stream", stream).RawJSON("line", t)
	switch {
	case o.decorate:
		ev.Msgf("[pool %s] child %d said into %s", o.pool, pid, stream)
	case head.Message != nil:
		ev.Msg(*head.Message)
	case head.Msg != nil:
		ev.Msg(*head.Msg)
	default:
		ev.Send()
	}
	return true
}

// workerLevel reads a log line's level: a name in any case (trace, debug,
// info, notice, warn, warning, error, err, critical, crit, alert, emerg,
// fatal, panic), slog's "WARN+2"-style offsets by their base, or pino's and
// bunyan's numbers (10 trace ... 60 fatal).
func workerLevel(raw json.RawMessage) (zerolog.Level, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		switch {
		case n >= 50:
			return zerolog.ErrorLevel, true
		case n >= 40:
			return zerolog.WarnLevel, true
		case n >= 30:
			return zerolog.InfoLevel, true
		case n > 0:
			return zerolog.DebugLevel, true
		}
		return 0, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	s = strings.ToLower(s)
	if i := strings.IndexAny(s, "+-"); i > 0 {
		s = s[:i]
	}
	switch s {
	case "trace", "debug":
		return zerolog.DebugLevel, true
	case "info", "notice":
		return zerolog.InfoLevel, true
	case "warn", "warning":
		return zerolog.WarnLevel, true
	case "error", "err", "critical", "crit", "alert", "emerg", "emergency", "fatal", "panic":
		return zerolog.ErrorLevel, true
	}
	return 0, false
}
