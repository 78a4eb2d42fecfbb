package phpimport

// [global] directives to gofpm's global keys.

import (
	"fmt"
	"strconv"
	"strings"
)

// global handles a [global] directive.
func (imp *importer) global(st iniStmt, at loc, d string) error {
	g := &imp.g
	v := st.val.s
	bad := func(msg string) error { return fmt.Errorf("%s: %s: %s", at, d, msg) }
	str := func() (string, error) { return imp.poolName(v, at, d) }
	switch name := strings.ToLower(st.name); name {
	case "pid":
		s, err := str()
		if err != nil {
			return err
		}
		g.paths["pid"] = strAt{s, at, d}
	case "error_log":
		s, err := str()
		if err != nil {
			return err
		}
		if strings.EqualFold(s, "syslog") {
			imp.warn(at, d, "dropped: gofpm cannot log to syslog; it logs to stderr (the journal under systemd)")
			delete(g.paths, "error_log")
			return nil
		}
		g.paths["error_log"] = strAt{s, at, d}
	case "syslog.ident", "events.mechanism":
		if _, err := str(); err != nil {
			return err
		}
		if name == "events.mechanism" {
			imp.warn(at, d, "dropped: the Go runtime chooses the event mechanism")
		} else {
			imp.warn(at, d, "dropped: gofpm does not log to syslog")
		}
	case "syslog.facility":
		if !isSyslogFacility(v) {
			return bad(fmt.Sprintf("invalid value %q", v))
		}
		imp.warn(at, d, "dropped: gofpm does not log to syslog")
	case "log_buffering", "daemonize":
		if _, err := parseBool(v); err != nil {
			return bad(err.Error())
		}
		if name == "daemonize" {
			imp.warn(at, d, "dropped: gofpm always runs in the foreground (use systemd or a container)")
		} else {
			imp.warn(at, d, "dropped: no such setting in gofpm")
		}
	case "log_level":
		switch l := strings.ToLower(v); l {
		case "debug", "notice", "warning", "error":
			g.vals["log_level"] = tomlString(l)
		case "warn":
			g.vals["log_level"] = tomlString("warning")
		case "alert":
			g.vals["log_level"] = tomlString("error")
			imp.warn(at, d, "alert becomes error (gofpm has no alert level)")
		default:
			return bad(fmt.Sprintf("invalid value %q (alert, error, warning, notice or debug)", v))
		}
	case "log_limit", "process.max", "process.priority":
		if _, err := parseInt(v); err != nil {
			return bad(err.Error())
		}
		switch name {
		case "process.max":
			imp.warn(at, d, "dropped: gofpm has no cap across pools (pm_max_children caps each pool)")
		case "process.priority":
			imp.warn(at, d, "dropped: gofpm does not renice its master (pools have process_priority)")
		default:
			imp.warn(at, d, "dropped: no such setting in gofpm")
		}
	case "emergency_restart_threshold":
		n, err := parseInt(v)
		if err != nil {
			return bad(err.Error())
		}
		g.ert = &intAt{n, at, d}
		g.vals["emergency_restart_threshold"] = strconv.Itoa(n)
	case "emergency_restart_interval", "process_control_timeout", "systemd_interval":
		secs, lit, err := parseTime(v)
		if err != nil {
			return bad(err.Error())
		}
		switch name {
		case "emergency_restart_interval":
			g.eriSecs = secs
			g.vals[name] = lit
		default:
			g.pctSet = true
			g.vals[name] = lit
		}
	case "rlimit_files":
		n, err := parseInt(v)
		if err != nil {
			return bad(err.Error())
		}
		g.rlimitFiles = &intAt{n, at, d}
	case "rlimit_core":
		n, err := parseRlimitCore(v)
		if err != nil {
			return bad(err.Error())
		}
		g.rlimitCore = &intAt{n, at, d}
	default:
		return fmt.Errorf("%s: unknown entry '%s'", at, st.name)
	}
	return nil
}
