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
	add(len(pc.ListenAllowedClients) > 0, "listen_allowed_clients")
	add(len(pc.ListenACLUsers) > 0 || len(pc.ListenACLGroups) > 0, "listen_acl_users/listen_acl_groups")
	return out
}

// pendingGlobalKeys is pendingPoolKeys for the global keys and [http].
func pendingGlobalKeys(c *Config) []string {
	var out []string
	if h := c.HTTP; h != nil {
		if h.TLSCert != "" {
			out = append(out, "http.tls_cert/tls_key")
		}
	}
	return out
}
