package fpm

// The configuration moved to fpm/internal/config. These aliases keep code
// written against the old names compiling while the split of issue 12 is
// merged; the integrator removes them at the end.

import (
	"github.com/gofpm/gofpm/fpm/internal/config"
	"golang.org/x/sys/unix"
)

type (
	Config      = config.Config
	PoolConfig  = config.Pool
	HTTPConfig  = config.HTTP
	HTTPRoute   = config.HTTPRoute
	Duration    = config.Duration
	Size        = config.Size
	Rlimit      = config.Rlimit
	LoadOptions = config.LoadOptions
	ConfigError = config.ConfigError
	PosError    = config.PosError
)

// Load is config.Load.
func Load(path string, o LoadOptions) (*Config, error) { return config.Load(path, o) }

// signalName is config.SignalName.
func signalName(s unix.Signal) string { return config.SignalName(s) }
