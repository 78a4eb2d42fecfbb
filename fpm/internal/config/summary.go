package config

// The one-line-per-pool summary of `gofpm check`.

import (
	"fmt"
	"strconv"
	"strings"
)

// Summary returns one line per pool for `gofpm check`, in file order,
// after a line naming the included files when the config has include.
func (c *Config) Summary() []string {
	var out []string
	if len(c.Include) > 0 {
		files := "no file"
		if len(c.Included) > 0 {
			files = strings.Join(c.Included, ", ")
		}
		out = append(out, fmt.Sprintf("include %s: %s", strings.Join(c.Include, " "), files))
	}
	for _, name := range c.PoolOrder {
		p := c.Pools[name]
		var mode string
		switch p.PM {
		case "dynamic":
			mode = fmt.Sprintf("dynamic, %d max children, %d at start, %d-%d spare",
				p.PMMaxChildren, p.PMStartServers, p.PMMinSpareServers, p.PMMaxSpareServers)
		case "ondemand":
			mode = fmt.Sprintf("ondemand, %d max children, idle timeout %s", p.PMMaxChildren, p.PMProcessIdleTimeout.D())
		default:
			unit := "children"
			if p.PMMaxChildren == 1 {
				unit = "child"
			}
			mode = fmt.Sprintf("%s, %d %s", p.PM, p.PMMaxChildren, unit)
		}
		run := "worker cgi"
		if p.Worker != "cgi" {
			args := make([]string, len(p.Command))
			for i, a := range p.Command {
				if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
					a = strconv.Quote(a)
				}
				args[i] = a
			}
			run = "command " + strings.Join(args, " ")
		}
		switch {
		case p.Worker == "php":
			run += "; warm: one php-cgi parent forks the children (one opcache)"
		case p.IsPHPCGI():
			// php.md: a warm fork needs worker = "php", which needs pm = "static".
			run += "; cold: each php-cgi starts on its own, with its own opcache (worker = \"php\" with pm = \"static\" forks warm children)"
		}
		out = append(out, fmt.Sprintf("pool %s: %s, listen %s, %s", name, mode, p.Listen, run))
	}
	return out
}
