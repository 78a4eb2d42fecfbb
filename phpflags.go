package main

// php-fpm's own flags, so that systemd units and container CMDs copied from
// php-fpm work: -y/--fpm-config is -c (configFlag's aliases), -t/--test is
// check, -F/--nodaemonize is accepted (gofpm always runs in the
// foreground), and -D/--daemonize is refused with the reason.

import "github.com/urfave/cli/v2"

// phpConfigFlag is -c of run (and of gofpm alone) with php-fpm's names for
// it, -y and --fpm-config.
func phpConfigFlag() *cli.StringFlag {
	f := configFlag()
	f.Aliases = append(f.Aliases, "y", "fpm-config")
	return f
}

// phpFPMFlags are the run flags that php-fpm users type.
func phpFPMFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "test", Aliases: []string{"t"}, Usage: "php-fpm's -t: check the configuration and exit (as gofpm check)"},
		&cli.BoolFlag{Name: "nodaemonize", Aliases: []string{"F"}, Usage: "php-fpm's -F, accepted: gofpm always runs in the foreground"},
		&cli.BoolFlag{Name: "daemonize", Aliases: []string{"D"}, Usage: "php-fpm's -D, refused: gofpm does not fork into the background"},
	}
}

// errDaemonize is the answer to -D.
const errDaemonize = "-D/--daemonize: gofpm does not daemonize; it runs in the foreground for systemd (Type=notify), a container or a supervisor: drop -D"

// phpFPMMode carries out -t and -D before a master starts; handled
// reports that it did (check ran, or -D was refused).
func phpFPMMode(c *cli.Context) (handled bool, err error) {
	switch {
	case c.Bool("daemonize"):
		return true, cli.Exit(errDaemonize, exitUsage)
	case c.Bool("test"):
		return true, checkConfig(c)
	}
	return false, nil
}
