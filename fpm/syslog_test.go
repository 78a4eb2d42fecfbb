package fpm

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/rs/zerolog"
)

// listenSyslog is a syslog daemon for one test: a Unix datagram socket.
func listenSyslog(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readDatagram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the syslog socket: %v", err)
	}
	return string(buf[:n])
}

// TestSyslogWriter: the lines syslog(3) sends for php-fpm's
// openlog(ident, LOG_PID, facility), with php-fpm's "[LEVEL] message" and
// each level's severity; a restarted daemon gets the next line.
func TestSyslogWriter(t *testing.T) {
	dir, err := os.MkdirTemp("", "gofpm-syslog")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "log.sock")
	d := listenSyslog(t, path)
	w, err := OpenSyslog(&config.Config{SyslogFacility: "local3", SyslogIdent: "web", SyslogAddress: path})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	log := zerolog.New(w).Level(zerolog.DebugLevel)
	pid := strconv.Itoa(os.Getpid())
	stamp := `[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d`
	for _, tt := range []struct {
		ev   *zerolog.Event
		msg  string
		want string
	}{
		{log.Info().Str("pool", "www"), "ready to handle connections", `<157>` + stamp + ` web\[` + pid + `\]: \[NOTICE\] ready to handle connections`},
		{log.Warn(), "[pool www] child 12 exited on signal 9 (SIGKILL)", `<156>` + stamp + ` web\[` + pid + `\]: \[WARNING\] \[pool www\] child 12 exited on signal 9 \(SIGKILL\)`},
		{log.Error().Err(os.ErrPermission), "opening", `<155>` + stamp + ` web\[` + pid + `\]: \[ERROR\] opening: permission denied`},
		{log.Debug(), "tick", `<159>` + stamp + ` web\[` + pid + `\]: \[DEBUG\] tick`},
	} {
		tt.ev.Msg(tt.msg)
		if got := readDatagram(t, d); !regexp.MustCompile(`^` + tt.want + `$`).MatchString(got) {
			t.Errorf("got %q, want %s", got, tt.want)
		}
	}
	w.JSON = true
	log.Info().Str("pool", "www").Msg("as json")
	if got, want := readDatagram(t, d), `]: {"level":"info","pool":"www","message":"as json"}`; !regexp.MustCompile(regexp.QuoteMeta(want) + `$`).MatchString(got) {
		t.Errorf("JSON: got %q, want it to end in %q", got, want)
	}
	w.JSON = false

	// The daemon restarts: a new socket at the same path.
	d.Close()
	os.Remove(path)
	d = listenSyslog(t, path)
	log.Info().Msg("after the restart")
	if got := readDatagram(t, d); !regexp.MustCompile(`\[NOTICE\] after the restart$`).MatchString(got) {
		t.Errorf("after a restart: got %q", got)
	}

	if _, err := OpenSyslog(&config.Config{SyslogFacility: "daemon", SyslogIdent: "x", SyslogAddress: filepath.Join(dir, "none")}); err == nil {
		t.Errorf("OpenSyslog on a missing socket: no error")
	}
}
