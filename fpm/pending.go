package fpm

// This file names the configuration keys that are accepted and validated
// but not acted on yet, so the master can say so at start instead of
// silently ignoring them. Entries leave this list as their features land.

// pendingPoolKeys returns the TOML keys set in pc that this version does
// not honour yet.
func pendingPoolKeys(pc *PoolConfig) []string {
	var out []string
	add := func(set bool, key string) {
		if set {
			out = append(out, key)
		}
	}
	add(pc.Chroot != "", "chroot")
	add(pc.RlimitFiles != 0 || pc.RlimitCore != 0, "rlimit_files/rlimit_core")
	add(pc.ProcessPriority != 0, "process_priority")
	return out
}

// pendingGlobalKeys is pendingPoolKeys for the global keys and [http].
func pendingGlobalKeys(c *Config) []string {
	return nil // every global and [http] key is honoured
}
