// Package phpimport translates php-fpm's configuration into gofpm's: it is
// `gofpm import-php-fpm` (SPEC §2). It reads php-fpm's ini configuration
// (php-fpm.conf with its include= globs, and pool files) the way php-fpm
// 8.2 reads it, and writes the same configuration as gofpm TOML (SPEC §3).
// Every directive that has no meaning in gofpm, or whose meaning changes on
// the way, gets one warning "FILE:LINE: directive: what happened". PHP pools
// become php-cgi pools: php_value and its siblings keep their names as
// tables of the pool (which gofpm passes to php-cgi as -d options).
//
// The ini reader copies php-fpm rather than a generic ini library, because
// php-fpm has its own habits (checked against php-fpm8.2 -tt):
//   - every line goes on its own through zend_parse_ini_string (normal mode),
//     so a value never spans lines; ';' starts a comment;
//   - yes/on/true become "1" and no/off/false/none/null "", but only as a
//     whole unquoted value; "${NAME}" reads the environment; constants such
//     as E_ALL are resolved; | & ^ ~ ! and parentheses compute integers;
//   - "double quotes" take \" \\ \$ escapes (other backslashes stay) and eat
//     the blanks around them; 'single quotes' are raw;
//   - "$pool" in a string value becomes the pool's name; directive names are
//     case-insensitive; a later scalar overrides an earlier one, but for
//     env[] and php_value[] the first definition of a key wins, and
//     php_admin_* beats php_value/php_flag;
//   - an unknown directive, a bad number, boolean or time is fatal.
package phpimport

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofpm/gofpm/fpm/internal/oneline"
)

// Options control a translation.
type Options struct {
	// PHPCGI is the worker command for PHP pools; default
	// "/usr/bin/php-cgi8.2" if it exists, else "php-cgi".
	PHPCGI string
	// Prefix is php-fpm's -p/--prefix: relative include patterns and
	// relative paths (pid, error_log, listen, slowlog, access.log, chdir,
	// chroot, path-valued php_values) resolve against it, as in php-fpm.
	// Empty: a relative include pattern resolves against the folder of the
	// file that holds it, and other relative paths are kept as written
	// (gofpm resolves them against the TOML file's folder). Either way each
	// relative path gets a warning.
	Prefix string
}

// defaultCGI is Debian's php-cgi for PHP 8.2, the version PHP-FPM.md
// describes.
const defaultCGI = "/usr/bin/php-cgi8.2"

// maxIncludeDepth is php-fpm's limit on nested files (the main file
// counts): "failed to include more than 5 files recursively".
const maxIncludeDepth = 5

// Import reads php-fpm ini files (a global file with [global] and
// include= globs, and/or pool files) and returns gofpm TOML text plus one
// warning per directive that has no meaning in gofpm or was changed (each
// warning: "FILE:LINE: directive: what happened", e.g.
// php_admin_value[memory_limit] kept, with what php-cgi cannot lock, or
// dropped with a reason). Files are read in order; a file
// already read (named twice, or also included) is skipped. Errors (an
// unreadable file, bad ini syntax, a directive or value php-fpm itself
// refuses) name FILE:LINE.
func Import(files []string, o Options) (toml []byte, warnings []string, err error) {
	imp, err := read(files, o)
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	imp.renderHead(&b, "")
	for _, p := range imp.pools {
		imp.renderPool(&b, p)
	}
	return b.Bytes(), imp.warningLines(), nil
}

// PoolFile is one pool's TOML, a drop-in file of a folder.
type PoolFile struct {
	Name string // the pool's name: the file is Name + ".toml"
	TOML []byte
}

// ImportSplit is Import writing each pool into a file of its own: main
// holds the global settings and include = [include] (the pattern that
// finds the pool files from main's folder, such as "pool.d/*.toml").
func ImportSplit(files []string, o Options, include string) (main []byte, pools []PoolFile, warnings []string, err error) {
	imp, err := read(files, o)
	if err != nil {
		return nil, nil, nil, err
	}
	var b bytes.Buffer
	imp.renderHead(&b, include)
	for _, p := range imp.pools {
		var pb bytes.Buffer
		pb.WriteString("# A gofpm pool translated from php-fpm by `gofpm import-php-fpm`; the main\n" +
			"# configuration file includes it. Relative paths are resolved against the\n" +
			"# main file's folder.\n")
		imp.renderPool(&pb, p)
		pools = append(pools, PoolFile{Name: p.key, TOML: pb.Bytes()})
	}
	return b.Bytes(), pools, imp.warningLines(), nil
}

// read reads and translates files (see Import).
func read(files []string, o Options) (*importer, error) {
	if len(files) == 0 {
		return nil, errors.New("no php-fpm configuration file given")
	}
	imp := &importer{o: o, seen: map[string]string{}, warnIdx: map[string]*warning{}}
	if imp.o.PHPCGI == "" {
		imp.o.PHPCGI = "php-cgi"
		if fi, err := os.Stat(defaultCGI); err == nil && !fi.IsDir() {
			imp.o.PHPCGI = defaultCGI
		}
	}
	if o.Prefix != "" {
		abs, err := filepath.Abs(o.Prefix)
		if err != nil {
			return nil, fmt.Errorf("prefix %q: %w", o.Prefix, err)
		}
		imp.prefix = abs
	}
	imp.g.vals = map[string]string{}
	imp.g.paths = map[string]strAt{}
	for _, f := range files {
		if err := imp.readTop(f); err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
				err = errors.New(oneline.Escape(msg)) // a name may hold a "\r"
			}
			return nil, err
		}
	}
	if len(imp.pools) == 0 {
		return nil, fmt.Errorf("%s: no pool defined: at least one pool section (such as [www]) is needed", strings.Join(files, ", "))
	}
	if err := imp.finish(); err != nil {
		return nil, err
	}
	return imp, nil
}

// loc is where a directive is: the file as named by the user or by the
// include glob, its index in importer.sources, and the 1-based line.
type loc struct {
	file string
	idx  int
	line int
}

func (l loc) String() string { return fmt.Sprintf("%s:%d", l.file, l.line) }

// strAt is a string directive and where it was set.
type strAt struct {
	s  string
	at loc
	d  string // the directive as written, e.g. "slowlog"
}

// table holds translated keys: vals are TOML literals by gofpm key;
// paths are path values resolved in finish (a pool's prefix may come after
// them).
type table struct {
	vals  map[string]string
	paths map[string]strAt
}

type pool struct {
	table
	name string // the php-fpm name, as first written (what $pool becomes)
	key  string // the gofpm name
	at   loc    // its first section header

	prefix       strAt
	listen       strAt
	statusListen strAt
	env          []envVar
	ini          []*phpValue
	php          map[string][]phpSetting // the settings kept, by table (php_value...)
	limitExt     bool                    // security.limit_extensions is set
}

type envVar struct {
	key, val string
	at       loc
	d        string
}

// phpValue is one php_value, php_flag, php_admin_value or php_admin_flag.
type phpValue struct {
	key   string
	val   string // the value php-fpm applies ("1"/"0" for flags)
	raw   string // the source text, usable as is by php-cgi when rawOK
	rawOK bool
	admin bool
	flag  bool
	kind  string // php_value, php_flag, php_admin_value or php_admin_flag
	at    loc
	d     string
}

// phpSetting is one line of a php_value (or sibling) table in the output.
type phpSetting struct {
	key  string
	val  string // TOML: a string, or true/false for flags
	note string // the directive and where it was
}

type globals struct {
	table
	ert         *intAt // emergency_restart_threshold
	eriSecs     int64  // emergency_restart_interval
	pctSet      bool   // process_control_timeout
	rlimitFiles *intAt
	rlimitCore  *intAt
}

type intAt struct {
	n  int
	at loc
	d  string
}

type source struct{ path, from string }

type importer struct {
	o       Options
	prefix  string            // absolute o.Prefix, or ""
	sources []source          // every file read, in order
	seen    map[string]string // absolute path read → "included from FILE:LINE", or "" when named by the user
	cur     *pool             // the current section; nil is [global]
	pools   []*pool
	g       globals
	warns   []*warning
	warnIdx map[string]*warning
}
