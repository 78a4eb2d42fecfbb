package status

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The samples below are php-fpm 8.2.36's output, copied from
// shared/PHP-FPM.md §3.5 (pool www, pm dynamic, started at 1795654037 =
// 26/Nov/2026:00:47:17 +0000, TZ=UTC).

const sampleTextShort = `pool:                 www
process manager:      dynamic
start time:           26/Nov/2026:00:47:17 +0000
start since:          7
accepted conn:        5
listen queue:         0
max listen queue:     0
listen queue len:     0
idle processes:       0
active processes:     2
total processes:      2
max active processes: 2
max children reached: 0
slow requests:        0
`

// sampleTextProcs is the body after the short part of ?full.
const sampleTextProcs = `
************************
pid:                  14976
state:                Running
start time:           26/Nov/2026:00:47:17 +0000
start since:          14
requests:             8
request duration:     505888
request method:       GET
request URI:          /sleep.php?s=3&x=<a>"q"
content length:       0
user:                 -
script:               /srv/www/sleep.php
last request cpu:     0.00
last request memory:  0

************************
pid:                  14977
state:                Running
start time:           26/Nov/2026:00:47:17 +0000
start since:          14
requests:             3
request duration:     505637
request method:       POST
request URI:          /sleep.php?s=3
content length:       5000
user:                 -
script:               /srv/www/sleep.php
last request cpu:     0.00
last request memory:  0

************************
pid:                  15126
state:                Running
start time:           26/Nov/2026:00:47:31 +0000
start since:          0
requests:             1
request duration:     592
request method:       GET
request URI:          /status?full
content length:       0
user:                 -
script:               -
last request cpu:     0.00
last request memory:  0
`

const sampleJSONShort = `{"pool":"www","process manager":"dynamic","start time":1795654037,"start since":7,"accepted conn":6,"listen queue":0,"max listen queue":0,"listen queue len":0,"idle processes":0,"active processes":2,"total processes":2,"max active processes":2,"max children reached":0,"slow requests":0}`

// sampleJSONFull splices two captures: pid 14977's entry comes from a
// capture 13 s later ("start since":27); the rest is at start+14.
const sampleJSONFull = `{"pool":"www","process manager":"dynamic","start time":1795654037,"start since":14,"accepted conn":13,"listen queue":0,"max listen queue":0,"listen queue len":0,"idle processes":0,"active processes":2,"total processes":2,"max active processes":2,"max children reached":0,"slow requests":0, "processes":[{"pid":14976,"state":"Running","start time":1795654037,"start since":14,"requests":8,"request duration":510464,"request method":"GET","request uri":"\/sleep.php?s=3&x=<a>\"q\"","content length":0,"user":"-","script":"\/srv\/www\/sleep.php","last request cpu":0.00,"last request memory":0},{"pid":14977,"state":"Idle","start time":1795654037,"start since":27,"requests":3,"request duration":3000241,"request method":"POST","request uri":"\/sleep.php?s=3","content length":5000,"user":"-","script":"\/srv\/www\/sleep.php","last request cpu":0.00,"last request memory":2097152},{"pid":15126,"state":"Running","start time":1795654051,"start since":0,"requests":2,"request duration":114,"request method":"GET","request uri":"\/status?json&full","content length":0,"user":"-","script":"-","last request cpu":0.00,"last request memory":0}]}`

const sampleXMLFull = `<?xml version="1.0" ?>
<status>
<pool>www</pool>
<process-manager>dynamic</process-manager>
<start-time>1795654037</start-time>
<start-since>14</start-since>
<accepted-conn>14</accepted-conn>
<listen-queue>0</listen-queue>
<max-listen-queue>0</max-listen-queue>
<listen-queue-len>0</listen-queue-len>
<idle-processes>0</idle-processes>
<active-processes>2</active-processes>
<total-processes>2</total-processes>
<max-active-processes>2</max-active-processes>
<max-children-reached>0</max-children-reached>
<slow-requests>0</slow-requests>
<processes>
<process><pid>14976</pid><state>Running</state><start-time>1795654037</start-time><start-since>14</start-since><requests>8</requests><request-duration>514190</request-duration><request-method>GET</request-method><request-uri>/sleep.php?s=3&amp;x=&lt;a&gt;&quot;q&quot;</request-uri><content-length>0</content-length><user>-</user><script>/srv/www/sleep.php</script><last-request-cpu>0.00</last-request-cpu><last-request-memory>0</last-request-memory></process>
<process><pid>15126</pid><state>Running</state><start-time>1795654051</start-time><start-since>0</start-since><requests>3</requests><request-duration>97</request-duration><request-method>GET</request-method><request-uri>/status?xml&amp;full</request-uri><content-length>0</content-length><user>-</user><script>-</script><last-request-cpu>0.00</last-request-cpu><last-request-memory>0</last-request-memory></process>
</processes>
</status>`

const sampleHTMLFull = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
<head><title>PHP-FPM Status Page</title></head>
<body>
<table>
<tr><th>pool</th><td>www</td></tr>
<tr><th>process manager</th><td>dynamic</td></tr>
<tr><th>start time</th><td>26/Nov/2026:00:47:17 +0000</td></tr>
<tr><th>start since</th><td>14</td></tr>
<tr><th>accepted conn</th><td>15</td></tr>
<tr><th>listen queue</th><td>0</td></tr>
<tr><th>max listen queue</th><td>0</td></tr>
<tr><th>listen queue len</th><td>0</td></tr>
<tr><th>idle processes</th><td>0</td></tr>
<tr><th>active processes</th><td>2</td></tr>
<tr><th>total processes</th><td>2</td></tr>
<tr><th>max active processes</th><td>2</td></tr>
<tr><th>max children reached</th><td>0</td></tr>
<tr><th>slow requests</th><td>0</td></tr>
</table>
<table border="1">
<tr><th>pid</th><th>state</th><th>start time</th><th>start since</th><th>requests</th><th>request duration</th><th>request method</th><th>request uri</th><th>content length</th><th>user</th><th>script</th><th>last request cpu</th><th>last request memory</th></tr>
<tr><td>14976</td><td>Running</td><td>26/Nov/2026:00:47:17 +0000</td><td>14</td><td>8</td><td>517884</td><td>GET</td><td>/sleep.php?s=3&amp;x=&lt;a&gt;&quot;q&quot;</td><td>0</td><td>-</td><td>/srv/www/sleep.php</td><td>0.00</td><td>0</td></tr>
<tr><td>15126</td><td>Running</td><td>26/Nov/2026:00:47:31 +0000</td><td>0</td><td>4</td><td>117</td><td>GET</td><td>/status?html&amp;full</td><td>0</td><td>-</td><td>-</td><td>0.00</td><td>0</td></tr>
</table></body></html>`

const sampleOpenMetrics = `# HELP phpfpm_up Could pool www using a dynamic PM on PHP-FPM be reached?
# TYPE phpfpm_up gauge
phpfpm_up 1
# HELP phpfpm_start_since The number of seconds since FPM has started.
# TYPE phpfpm_start_since counter
phpfpm_start_since 7
# HELP phpfpm_accepted_connections The number of requests accepted by the pool.
# TYPE phpfpm_accepted_connections counter
phpfpm_accepted_connections 9
# HELP phpfpm_listen_queue The number of requests in the queue of pending connections.
# TYPE phpfpm_listen_queue gauge
phpfpm_listen_queue 0
# HELP phpfpm_max_listen_queue The maximum number of requests in the queue of pending connections since FPM has started.
# TYPE phpfpm_max_listen_queue counter
phpfpm_max_listen_queue 0
# TYPE phpfpm_listen_queue_length gauge
# HELP phpfpm_listen_queue_length The size of the socket queue of pending connections.
phpfpm_listen_queue_length 0
# HELP phpfpm_idle_processes The number of idle processes.
# TYPE phpfpm_idle_processes gauge
phpfpm_idle_processes 0
# HELP phpfpm_active_processes The number of active processes.
# TYPE phpfpm_active_processes gauge
phpfpm_active_processes 2
# HELP phpfpm_total_processes The number of idle + active processes.
# TYPE phpfpm_total_processes gauge
phpfpm_total_processes 2
# HELP phpfpm_max_active_processes The maximum number of active processes since FPM has started.
# TYPE phpfpm_max_active_processes counter
phpfpm_max_active_processes 2
# HELP phpfpm_max_children_reached The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').
# TYPE phpfpm_max_children_reached counter
phpfpm_max_children_reached 0
# HELP phpfpm_slow_requests The number of requests that exceeded your 'request_slowlog_timeout' value.
# TYPE phpfpm_slow_requests counter
phpfpm_slow_requests 0
# EOF
`

var (
	sampleStart = time.Unix(1795654037, 0)
	sampleAt7   = time.Unix(1795654037+7, 0).UTC()  // the short captures
	sampleAt14  = time.Unix(1795654037+14, 0).UTC() // the full captures
)

// sampleSnapshot is the pool state of the samples with the given accepted
// conn and workers.
func sampleSnapshot(accepted uint64, procs ...Proc) *Snapshot {
	return &Snapshot{
		Pool: "www", PM: "dynamic", StartTime: sampleStart,
		Accepted: accepted,
		Idle:     0, Active: 2, Total: 2, MaxActive: 2,
		Procs: procs,
	}
}

// sampleSleeper is pid 14976 (GET /sleep.php?s=3&x=<a>"q", running).
func sampleSleeper(requests uint64, durUS int64) Proc {
	return Proc{
		PID: 14976, State: "Running", StartTime: sampleStart, Requests: requests,
		RequestDuration: time.Duration(durUS) * time.Microsecond,
		RequestMethod:   "GET", RequestURI: "/sleep.php", QueryString: `s=3&x=<a>"q"`,
		Script: "/srv/www/sleep.php",
	}
}

// samplePoster is pid 14977 (POST /sleep.php?s=3 with 5000 bytes).
func samplePoster(state string, requests uint64, durUS int64, memory int64) Proc {
	return Proc{
		PID: 14977, State: state, StartTime: sampleStart, Requests: requests,
		RequestDuration: time.Duration(durUS) * time.Microsecond,
		RequestMethod:   "POST", RequestURI: "/sleep.php", QueryString: "s=3",
		ContentLength: 5000, Script: "/srv/www/sleep.php",
		LastRequestMemory: memory,
	}
}

// sampleSelf is pid 15126 serving the status request itself (no
// SCRIPT_FILENAME kept, so script is "-"). The URI is given whole to use
// the "uri?query" split.
func sampleSelf(requests uint64, durUS int64, uri string) Proc {
	return Proc{
		PID: 15126, State: "Running", StartTime: time.Unix(1795654051, 0), Requests: requests,
		RequestDuration: time.Duration(durUS) * time.Microsecond,
		RequestMethod:   "GET", RequestURI: uri,
	}
}

var statusWantHeader = map[string][]string{
	Text: {"Expires: Thu, 01 Jan 1970 00:00:00 GMT", "Cache-Control: no-cache, no-store, must-revalidate, max-age=0",
		"Content-type: text/plain;charset=UTF-8"},
	JSON: {"Expires: Thu, 01 Jan 1970 00:00:00 GMT", "Cache-Control: no-cache, no-store, must-revalidate, max-age=0",
		"Content-Type: application/json"},
	XML: {"Expires: Thu, 01 Jan 1970 00:00:00 GMT", "Cache-Control: no-cache, no-store, must-revalidate, max-age=0",
		"Content-type: text/xml;charset=UTF-8"},
	HTML: {"Expires: Thu, 01 Jan 1970 00:00:00 GMT", "Cache-Control: no-cache, no-store, must-revalidate, max-age=0",
		"Content-type: text/html;charset=UTF-8"},
	OpenMetrics: {"Expires: Thu, 01 Jan 1970 00:00:00 GMT", "Cache-Control: no-cache, no-store, must-revalidate, max-age=0",
		"Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"},
}

// checkStatus renders and compares header and body byte for byte.
func checkStatus(t *testing.T, name string, s *Snapshot, format string, full bool, now time.Time, want string) {
	t.Helper()
	header, body := Render(s, format, full, now)
	if !reflect.DeepEqual(header, statusWantHeader[format]) {
		t.Errorf("%s: header\n got %q\nwant %q", name, header, statusWantHeader[format])
	}
	if string(body) != want {
		t.Errorf("%s: body differs at byte %d\n got:\n%s\nwant:\n%s", name, firstDiff(string(body), want), body, want)
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestStatusSamplesText(t *testing.T) {
	checkStatus(t, "text", sampleSnapshot(5), Text, false, sampleAt7, sampleTextShort)

	// The full sample shows only the process part; its short part is the
	// same page at start+14.
	s := sampleSnapshot(5,
		sampleSleeper(8, 505888),
		samplePoster("Running", 3, 505637, 0),
		sampleSelf(1, 592, "/status?full"))
	_, short := Render(s, Text, false, sampleAt14)
	wantShort := strings.Replace(sampleTextShort, "start since:          7\n", "start since:          14\n", 1)
	if string(short) != wantShort {
		t.Fatalf("short part at start+14:\n%s", short)
	}
	checkStatus(t, "text&full", s, Text, true, sampleAt14, wantShort+sampleTextProcs)
}

func TestStatusSamplesJSON(t *testing.T) {
	checkStatus(t, "json", sampleSnapshot(6), JSON, false, sampleAt7, sampleJSONShort)

	s := sampleSnapshot(13,
		sampleSleeper(8, 510464),
		samplePoster("Idle", 3, 3000241, 2097152),
		sampleSelf(2, 114, "/status?json&full"))
	// One clock for the whole page: pid 14977 is 14 s old here, not 27.
	want := strings.Replace(sampleJSONFull, `"pid":14977,"state":"Idle","start time":1795654037,"start since":27,`,
		`"pid":14977,"state":"Idle","start time":1795654037,"start since":14,`, 1)
	if want == sampleJSONFull {
		t.Fatal("sample splice not found")
	}
	checkStatus(t, "json&full", s, JSON, true, sampleAt14, want)

	// pid 14977 as captured, 27 s after the start, byte for byte.
	one := sampleSnapshot(13, samplePoster("Idle", 3, 3000241, 2097152))
	_, body := Render(one, JSON, true, sampleStart.Add(27*time.Second))
	_, entry, _ := strings.Cut(string(body), `"processes":[`)
	entry = strings.TrimSuffix(entry, "]}")
	if !strings.Contains(sampleJSONFull, ","+entry+",") {
		t.Errorf("pid 14977 entry %s is not in the sample", entry)
	}
}

func TestStatusSamplesXML(t *testing.T) {
	s := sampleSnapshot(14,
		sampleSleeper(8, 514190),
		sampleSelf(3, 97, "/status?xml&full"))
	checkStatus(t, "xml&full", s, XML, true, sampleAt14, sampleXMLFull)

	// The short form stops after <slow-requests> and closes </status>.
	short, _, _ := strings.Cut(sampleXMLFull, "<processes>\n")
	checkStatus(t, "xml", s, XML, false, sampleAt14, short+"</status>")
}

func TestStatusSamplesHTML(t *testing.T) {
	s := sampleSnapshot(15,
		sampleSleeper(8, 517884),
		sampleSelf(4, 117, "/status?html&full"))
	checkStatus(t, "html&full", s, HTML, true, sampleAt14, sampleHTMLFull)

	// The short form ends with "</table>\n</body></html>".
	short, _, _ := strings.Cut(sampleHTMLFull, "<table border=\"1\">")
	checkStatus(t, "html", s, HTML, false, sampleAt14, short+"</body></html>")
}

func TestStatusSamplesOpenMetrics(t *testing.T) {
	s := sampleSnapshot(9, sampleSleeper(8, 1), sampleSelf(1, 1, "/status?openmetrics&full"))
	checkStatus(t, "openmetrics", s, OpenMetrics, false, sampleAt7, sampleOpenMetrics)
	checkStatus(t, "openmetrics&full", s, OpenMetrics, true, sampleAt7, sampleOpenMetrics)
}

// TestStatusStructure checks what a scraper relies on beyond the samples:
// JSON keys, order and value types; XML well-formedness and element names.
func TestStatusStructure(t *testing.T) {
	s := sampleSnapshot(13,
		sampleSleeper(8, 510464),
		samplePoster("Idle", 3, 3000241, 2097152))
	s.Procs[1].LastRequestCPU = 98.68
	s.Procs[0].User = `al"i<ce>`
	s.Procs[0].Script = `/srv/www/a"b<c>&.php`

	_, body := Render(s, JSON, true, sampleAt14)
	if !json.Valid(body) {
		t.Fatalf("invalid JSON: %s", body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var page map[string]any
	if err := dec.Decode(&page); err != nil {
		t.Fatal(err)
	}
	poolKeys := []string{"pool", "process manager", "start time", "start since", "accepted conn", "listen queue",
		"max listen queue", "listen queue len", "idle processes", "active processes", "total processes",
		"max active processes", "max children reached", "slow requests", "processes"}
	procKeys := []string{"pid", "state", "start time", "start since", "requests", "request duration", "request method",
		"request uri", "content length", "user", "script", "last request cpu", "last request memory"}
	if got := jsonKeyOrder(t, body); !reflect.DeepEqual(got, poolKeys) {
		t.Errorf("pool keys %q", got)
	}
	strs := map[string]bool{"pool": true, "process manager": true, "state": true, "request method": true,
		"request uri": true, "user": true, "script": true}
	checkTypes := func(m map[string]any, keys []string) {
		for _, k := range keys {
			switch v := m[k].(type) {
			case string:
				if !strs[k] {
					t.Errorf("%q is a string", k)
				}
			case json.Number:
				if strs[k] {
					t.Errorf("%q is a number", k)
				}
				isFloat := strings.Contains(v.String(), ".")
				if isFloat != (k == "last request cpu") {
					t.Errorf("%q = %s", k, v)
				}
			case []any:
				if k != "processes" {
					t.Errorf("%q is an array", k)
				}
			default:
				t.Errorf("%q has type %T", k, v)
			}
		}
	}
	checkTypes(page, poolKeys)
	procs := page["processes"].([]any)
	if len(procs) != 2 {
		t.Fatalf("%d processes", len(procs))
	}
	for _, p := range procs {
		m := p.(map[string]any)
		if len(m) != len(procKeys) {
			t.Errorf("process keys %v", m)
		}
		checkTypes(m, procKeys)
	}
	p0 := procs[0].(map[string]any)
	if p0["user"] != `al"i<ce>` || p0["script"] != `/srv/www/a"b<c>&.php` {
		t.Errorf("decoded user %q script %q", p0["user"], p0["script"])
	}
	if cpu := procs[1].(map[string]any)["last request cpu"].(json.Number); cpu != "98.68" {
		t.Errorf("idle cpu %s", cpu)
	}

	for _, format := range []string{XML, HTML} {
		for _, full := range []bool{false, true} {
			_, body := Render(s, format, full, sampleAt14)
			names := xmlElements(t, body)
			if format == XML {
				want := []string{"status", "pool", "process-manager", "start-time", "start-since", "accepted-conn",
					"listen-queue", "max-listen-queue", "listen-queue-len", "idle-processes", "active-processes",
					"total-processes", "max-active-processes", "max-children-reached", "slow-requests"}
				if full {
					want = append(want, "processes")
					for range s.Procs {
						want = append(want, "process", "pid", "state", "start-time", "start-since", "requests",
							"request-duration", "request-method", "request-uri", "content-length", "user", "script",
							"last-request-cpu", "last-request-memory")
					}
				}
				if !reflect.DeepEqual(names, want) {
					t.Errorf("xml full=%v elements %q", full, names)
				}
			}
		}
	}
}

// jsonKeyOrder returns the top-level keys of a JSON object in order.
func jsonKeyOrder(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var keys []string
	depth := 0
	wantKey := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
				wantKey = depth == 1
				continue
			}
			depth--
		case string:
			if depth == 1 && wantKey {
				keys = append(keys, v)
				wantKey = false
				continue
			}
		}
		if depth == 1 {
			wantKey = true
		}
	}
}

// xmlElements parses body as XML and returns the start element names.
func xmlElements(t *testing.T, body []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	var names []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, body)
		}
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Local)
		}
	}
}

func TestStatusParseQuery(t *testing.T) {
	for _, tc := range []struct {
		q      string
		format string
		full   bool
	}{
		{"", "text", false},
		{"full", "text", true},
		{"json", "json", false},
		{"xml", "xml", false},
		{"html", "html", false},
		{"openmetrics", "openmetrics", false},
		{"openmetrics&full", "openmetrics", true}, // Render ignores full here
		{"json&full", "json", true},
		{"full&json", "json", true},
		{"json=0&full=no", "json", true}, // only presence counts
		{"json=&full=", "json", true},
		{"json&json&full&full", "json", true},
		{"unknown", "text", false},
		{"JSON", "text", false}, // keys are case-sensitive
		{"jsonx&fullx", "text", false},
		{"foo=json&bar=full", "text", false}, // values do not count
		// precedence: html > xml > json > openmetrics > text
		{"openmetrics&json", "json", false},
		{"json&xml", "xml", false},
		{"json&xml&html", "html", false},
		{"openmetrics&html", "html", false},
		// PHP's $_GET key decoding
		{"%6Ason", "json", false},
		{"+json", "json", false}, // leading spaces are dropped
		{"%20%20xml", "xml", false},
		{"json+", "text", false}, // a trailing space becomes '_'
		{"json.", "text", false},
		{"json[]=1", "json", false},
		{"json[a][b]=1&full[]", "json", true},
		{"json[", "text", false}, // no ']': PHP registers "json_"
		{"json[a", "text", false},
		{"json%00x", "json", false}, // cut at NUL
		{"=json&[full]", "text", false},
		{"&&json&&", "json", false},
		{"a=b;json", "text", false}, // ';' is not a separator
		{"%zzjson", "text", false},
	} {
		format, full := ParseQuery(tc.q)
		if format != tc.format || full != tc.full {
			t.Errorf("ParseQuery(%q) = %q, %v; want %q, %v", tc.q, format, full, tc.format, tc.full)
		}
	}
	// max_input_vars: only the first 1000 pairs reach $_GET.
	q := strings.Repeat("a&", 999)
	if f, _ := ParseQuery(q + "json"); f != "json" {
		t.Errorf("1000th pair: %q", f)
	}
	if f, _ := ParseQuery(q + "b&json"); f != "text" {
		t.Errorf("1001st pair: %q", f)
	}
}

func TestStatusEscaping(t *testing.T) {
	p := Proc{
		PID: 1, State: "Running", StartTime: sampleStart, RequestMethod: "GET",
		RequestURI:  `/a<b>&"c'd`,
		QueryString: `x=<y>&z="w'"`,
		User:        `al"i<ce>`,
		Script:      "/srv/www/my script/a\"b<c>&.php",
	}
	s := sampleSnapshot(1, p)
	for _, tc := range []struct{ format, want string }{
		{Text, "request URI:          /a<b>&\"c'd?x=<y>&z=\"w'\"\n"},
		{Text, "user:                 al\"i<ce>\n"},
		{Text, "script:               /srv/www/my script/a\"b<c>&.php\n"},
		{JSON, `"request uri":"\/a<b>&\"c'd?x=<y>&z=\"w'\"",`},
		{JSON, `"user":"al\"i<ce>",`},
		{JSON, `"script":"\/srv\/www\/my script\/a\"b<c>&.php",`},
		{XML, "<request-uri>/a&lt;b&gt;&amp;&quot;c'd?x=&lt;y&gt;&amp;z=&quot;w'&quot;</request-uri>"},
		{XML, "<user>al&quot;i&lt;ce&gt;</user>"},
		{XML, "<script>/srv/www/my script/a&quot;b&lt;c&gt;&amp;.php</script>"},
		{HTML, "<td>/a&lt;b&gt;&amp;&quot;c'd?x=&lt;y&gt;&amp;z=&quot;w'&quot;</td>"},
		{HTML, "<td>al&quot;i&lt;ce&gt;</td><td>/srv/www/my script/a&quot;b&lt;c&gt;&amp;.php</td>"},
	} {
		_, body := Render(s, tc.format, true, sampleAt14)
		if !bytes.Contains(body, []byte(tc.want)) {
			t.Errorf("%s: no %s in\n%s", tc.format, tc.want, body)
		}
	}
	_, body := Render(s, JSON, true, sampleAt14)
	if !json.Valid(body) {
		t.Errorf("invalid JSON: %s", body)
	}
	_, body = Render(s, XML, true, sampleAt14)
	xmlElements(t, body)
}

func TestStatusJSONEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a/b", `\/a\/b`},
		{`"\`, `\"\\`},
		{"\b\f\n\r\t", `\b\f\n\r\t`},
		{"\x00\x01\x1f\x7f", `\u0000\u0001\u001f` + "\x7f"},
		{"<>&'", "<>&'"},
		{"é€", `\u00e9\u20ac`},
		{"😀", `\ud83d\ude00`},
		{"a\xffb\xe2\x82c", "abc"}, // invalid UTF-8 dropped
		{"\xed\xa0\x80x", "x"},     // a UTF-16 surrogate is invalid UTF-8
		{"\ufffd", `\ufffd`},
	} {
		var b bytes.Buffer
		jsonEscape(&b, tc.in)
		if b.String() != tc.want {
			t.Errorf("jsonEscape(%q) = %s, want %s", tc.in, b.String(), tc.want)
		}
	}
	var b bytes.Buffer
	htmlEscape(&b, "a&b<c>d\"e'f é\xffg")
	if want := "a&amp;b&lt;c&gt;d&quot;e'f ég"; b.String() != want {
		t.Errorf("htmlEscape = %q, want %q", b.String(), want)
	}
}

func TestStatusTruncation(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	s := &Snapshot{Pool: long("p", 40), PM: "static", StartTime: sampleStart, Procs: []Proc{{
		PID: 7, State: "Running", StartTime: sampleStart,
		RequestMethod: long("M", 20), RequestURI: "/" + long("u", 200), QueryString: long("q", 600),
		User: long("U", 40), Script: long("s", 300),
	}}}
	_, body := Render(s, Text, true, sampleAt14)
	for _, want := range []string{
		"pool:                 " + long("p", 31) + "\n",
		"request method:       " + long("M", 15) + "\n",
		"request URI:          /" + long("u", 126) + "?" + long("q", 511) + "\n",
		"user:                 " + long("U", 31) + "\n",
		"script:               " + long("s", 255) + "\n",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("missing %q", want)
		}
	}
	// A cut inside a multi-byte character leaves invalid UTF-8, which JSON
	// drops; a NUL ends a C string.
	s.Procs[0].Script = long("s", 254) + "é"
	s.Procs[0].User = "bob\x00ignored"
	_, body = Render(s, JSON, true, sampleAt14)
	if !bytes.Contains(body, []byte(`"user":"bob","script":"`+long("s", 254)+`"`)) {
		t.Errorf("cut: %s", body)
	}
	if !json.Valid(body) {
		t.Errorf("invalid JSON: %s", body)
	}
	// The uri and the query are cut separately, also when given together.
	s.Procs[0].RequestURI, s.Procs[0].QueryString = "/"+long("u", 200)+"?"+long("q", 600), ""
	_, body = Render(s, Text, true, sampleAt14)
	if !bytes.Contains(body, []byte("request URI:          /"+long("u", 126)+"?"+long("q", 511)+"\n")) {
		t.Errorf("combined uri not split")
	}
}

func TestStatusProcessFields(t *testing.T) {
	base := Proc{PID: 9, StartTime: sampleStart, Requests: 2, RequestDuration: 1500 * time.Millisecond,
		LastRequestCPU: 98.675, LastRequestMemory: 7344128}
	for _, tc := range []struct {
		state string
		want  string
	}{
		// Only an Idle worker shows its last request's cpu and memory. The
		// cpu goes through a C float: 98.675 prints as 98.68.
		{"Idle", "last request cpu:     98.68\nlast request memory:  7344128\n"},
		{"Running", "last request cpu:     0.00\nlast request memory:  0\n"},
		{"Finishing", "last request cpu:     0.00\nlast request memory:  0\n"},
	} {
		p := base
		p.State = tc.state
		_, body := Render(&Snapshot{Pool: "www", PM: "ondemand", StartTime: sampleStart, Procs: []Proc{p}},
			Text, true, sampleAt14)
		if !bytes.HasSuffix(body, []byte(tc.want)) {
			t.Errorf("%s:\n%s", tc.state, body)
		}
		for _, want := range []string{"request duration:     1500000\n", "request method:       -\n",
			"request URI:          -\n", "user:                 -\n", "script:               -\n"} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("%s: missing %q", tc.state, want)
			}
		}
	}
	// A query without a uri prints "-?query", as php-fpm's "%s%s%s" does.
	p := base
	p.State, p.QueryString = "Running", "a=1"
	_, body := Render(&Snapshot{Procs: []Proc{p}}, Text, true, sampleAt14)
	if !bytes.Contains(body, []byte("request URI:          -?a=1\n")) {
		t.Errorf("query without uri:\n%s", body)
	}
	// NaN cpu prints 0.00; a clock that went back prints 0 seconds.
	p.State, p.LastRequestCPU, p.StartTime = "Idle", 0, sampleAt14.Add(time.Hour)
	p.LastRequestCPU = p.LastRequestCPU / p.LastRequestCPU
	_, body = Render(&Snapshot{Procs: []Proc{p}}, JSON, true, sampleAt14)
	if !bytes.Contains(body, []byte(`"start since":0,`)) || !bytes.Contains(body, []byte(`"last request cpu":0.00,`)) {
		t.Errorf("NaN cpu or negative since: %s", body)
	}
}

// TestStatusTimeZone: text and html show the local time of now's location
// with a numeric zone, json and xml the epoch.
func TestStatusTimeZone(t *testing.T) {
	zone := time.FixedZone("CEST", 2*3600)
	s := sampleSnapshot(5)
	now := sampleAt7.In(zone)
	_, body := Render(s, Text, false, now)
	if !bytes.Contains(body, []byte("start time:           26/Nov/2026:02:47:17 +0200\n")) {
		t.Errorf("text:\n%s", body)
	}
	_, body = Render(s, HTML, false, now)
	if !bytes.Contains(body, []byte("<tr><th>start time</th><td>26/Nov/2026:02:47:17 +0200</td></tr>\n")) {
		t.Errorf("html:\n%s", body)
	}
	_, body = Render(sampleSnapshot(6), JSON, false, now)
	if string(body) != sampleJSONShort {
		t.Errorf("json in another zone:\n%s", body)
	}
	west := time.FixedZone("X", -(9*3600 + 30*60))
	_, body = Render(s, Text, false, time.Date(2027, 1, 5, 0, 0, 0, 0, west))
	if !bytes.Contains(body, []byte("start time:           25/Nov/2026:15:17:17 -0930\n")) {
		t.Errorf("negative offset:\n%s", body)
	}
}

// TestStatusTotal: "total processes" is idle + active, as in php-fpm.
func TestStatusTotal(t *testing.T) {
	s := &Snapshot{Pool: "www", PM: "static", StartTime: sampleStart, Idle: 3, Active: 1, Total: 7}
	_, body := Render(s, Text, false, sampleAt7)
	if !bytes.Contains(body, []byte("total processes:      4\n")) {
		t.Errorf("%s", body)
	}
}

func TestStatusUnknownFormat(t *testing.T) {
	h, body := Render(sampleSnapshot(5), "yaml", true, sampleAt7)
	if !reflect.DeepEqual(h, statusWantHeader[Text]) || string(body) != sampleTextShort {
		t.Errorf("unknown format: %q\n%s", h, body)
	}
}

func TestStatusHead(t *testing.T) {
	want := []string{"Expires: Thu, 01 Jan 1970 00:00:00 GMT",
		"Cache-Control: no-cache, no-store, must-revalidate, max-age=0",
		"Content-type: text/html; charset=UTF-8"}
	if got := RenderHead(); !reflect.DeepEqual(got, want) {
		t.Errorf("HEAD header %q", got)
	}
}

func TestStatusPing(t *testing.T) {
	want := []string{"Content-type: text/plain;charset=UTF-8",
		"Expires: Thu, 01 Jan 1970 00:00:00 GMT",
		"Cache-Control: no-cache, no-store, must-revalidate, max-age=0"}
	for _, tc := range []struct{ response, body string }{
		{"pong", "pong"},
		{"", "pong"},
		{"alive & well", "alive & well"},
	} {
		h, body := RenderPing(tc.response)
		if !reflect.DeepEqual(h, want) {
			t.Errorf("ping header %q", h)
		}
		if string(body) != tc.body {
			t.Errorf("RenderPing(%q) body %q, want %q", tc.response, body, tc.body)
		}
	}
}
