package fpm

// error_log = "syslog": the master's log lines go to the syslog daemon's
// Unix datagram socket (syslog_address, default /dev/log) as syslog(3)
// sends them for php-fpm's openlog(ident, LOG_PID, facility):
// "<PRI>Mmm dd hh:mm:ss IDENT[PID]: [LEVEL] message", one datagram a line.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/rs/zerolog"
)

// Syslog severities (RFC 5424) by zerolog level, as php-fpm maps its own:
// debug → LOG_DEBUG, notice → LOG_NOTICE, warning → LOG_WARNING, error →
// LOG_ERR, alert → LOG_ALERT.
var syslogSeverity = map[zerolog.Level]int{
	zerolog.DebugLevel: 7, zerolog.InfoLevel: 5, zerolog.WarnLevel: 4,
	zerolog.ErrorLevel: 3, zerolog.FatalLevel: 1, zerolog.PanicLevel: 1,
}

// syslogLevelName is php-fpm's name of each level, for "[LEVEL] message".
var syslogLevelName = map[zerolog.Level]string{
	zerolog.DebugLevel: "DEBUG", zerolog.InfoLevel: "NOTICE", zerolog.WarnLevel: "WARNING",
	zerolog.ErrorLevel: "ERROR", zerolog.FatalLevel: "ALERT", zerolog.PanicLevel: "ALERT",
}

// SyslogWriter is a zerolog.LevelWriter that sends each event to syslog.
// It is safe for concurrent use.
type SyslogWriter struct {
	// JSON sends the event's JSON as the message (--log-format json);
	// otherwise the message is php-fpm's "[LEVEL] message".
	JSON bool

	addr     string
	facility int
	ident    string
	pid      int

	mu   sync.Mutex
	conn net.Conn
	buf  []byte
}

var _ zerolog.LevelWriter = (*SyslogWriter)(nil)

// OpenSyslog connects to the syslog socket the configuration names.
func OpenSyslog(cfg *config.Config) (*SyslogWriter, error) {
	fac := slices.Index(config.SyslogFacilities, cfg.SyslogFacility)
	if fac < 0 {
		return nil, fmt.Errorf("syslog_facility %q is unknown", cfg.SyslogFacility)
	}
	w := &SyslogWriter{addr: cfg.SyslogAddress, facility: syslogFacilityCode[fac], ident: cfg.SyslogIdent, pid: os.Getpid()}
	if err := w.dial(); err != nil {
		return nil, err
	}
	return w, nil
}

// syslogFacilityCode is the code of each name in config.SyslogFacilities.
var syslogFacilityCode = []int{4, 10, 9, 3, 11, 0, 6, 2, 7, 5, 1, 8, 16, 17, 18, 19, 20, 21, 22, 23}

func (w *SyslogWriter) dial() error {
	c, err := net.Dial("unixgram", w.addr)
	if err != nil {
		return fmt.Errorf("error_log = \"syslog\": connecting to %s: %w", w.addr, err)
	}
	w.conn = c
	return nil
}

// Write sends p at notice level.
func (w *SyslogWriter) Write(p []byte) (int, error) { return w.WriteLevel(zerolog.InfoLevel, p) }

// WriteLevel sends one event. When the daemon went away (restarted), it
// connects again once and resends.
func (w *SyslogWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	sev, ok := syslogSeverity[l]
	if !ok {
		sev, l = 5, zerolog.InfoLevel
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b := append(w.buf[:0], '<')
	b = strconv.AppendInt(b, int64(w.facility<<3|sev), 10)
	b = append(b, '>')
	b = time.Now().AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, w.ident...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(w.pid), 10)
	b = append(b, "]: "...)
	b = w.appendMessage(b, l, bytes.TrimRight(p, "\n"))
	w.buf = b
	if w.conn == nil {
		if err := w.dial(); err != nil {
			return 0, err
		}
	}
	if _, err := w.conn.Write(b); err != nil {
		w.conn.Close()
		if err := w.dial(); err != nil {
			w.conn = nil
			return 0, err
		}
		if _, err := w.conn.Write(b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// appendMessage appends the event p: its JSON, or "[LEVEL] message" with
// the message (and error) of the event.
func (w *SyslogWriter) appendMessage(b []byte, l zerolog.Level, p []byte) []byte {
	if w.JSON {
		return append(b, p...)
	}
	var ev struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	b = append(b, '[')
	b = append(b, syslogLevelName[l]...)
	b = append(b, "] "...)
	if json.Unmarshal(p, &ev) != nil {
		return append(b, p...) // not an event: as it is
	}
	b = append(b, ev.Message...)
	if ev.Error != "" && !bytes.Contains([]byte(ev.Message), []byte(ev.Error)) {
		b = append(b, ": "...)
		b = append(b, ev.Error...)
	}
	return b
}

// Close closes the connection.
func (w *SyslogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		return nil
	}
	return w.conn.Close()
}
