package fpm

// The command (package main) may not import fpm/internal/config, so fpm
// passes on the names it needs to load and report a configuration.

import "github.com/gofpm/gofpm/fpm/internal/config"

type (
	// Config is a loaded configuration: see fpm/internal/config.
	Config = config.Config
	// LoadOptions are Load's options.
	LoadOptions = config.LoadOptions
	// ConfigError lists every problem of a configuration file.
	ConfigError = config.ConfigError
)

// Load reads, checks and resolves a configuration file.
func Load(path string, o LoadOptions) (*Config, error) { return config.Load(path, o) }
