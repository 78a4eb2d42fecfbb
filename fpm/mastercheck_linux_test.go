package fpm

import "testing"

func TestMasterArgs(t *testing.T) {
	for _, tc := range []struct {
		args            []string
		config, command string
	}{
		{[]string{"-c", "a.toml"}, "a.toml", ""},
		{[]string{"run", "-c", "a.toml", "--log-format", "json", "-R"}, "a.toml", "run"},
		{[]string{"--config=/x/a.toml", "-F"}, "/x/a.toml", ""},
		{[]string{"-y", "b.toml", "--pid", "run"}, "b.toml", ""},
		{[]string{"--fpm-config", "c.toml"}, "c.toml", ""},
		{[]string{"worker", "cgi"}, "", "worker"},
		{[]string{"--log-level", "debug", "status", "-s", "unix:/x"}, "", "status"},
		{[]string{"-R"}, "", ""},
	} {
		config, command := masterArgs(tc.args)
		if config != tc.config || command != tc.command {
			t.Errorf("%q: %q %q, want %q %q", tc.args, config, command, tc.config, tc.command)
		}
	}
}
