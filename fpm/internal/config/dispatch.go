package config

// The keys of dispatch = "master" (issue 13): dispatch, pm_max_queue and
// request_queue_timeout; their defaults and their checks.

// Dispatch modes.
const (
	DispatchSocket = "socket" // the workers accept on the pool's socket
	DispatchMaster = "master" // the master accepts and hands requests out
)

// defaultMaxQueue is pm_max_queue's default: as many requests as the
// kernel's default listen backlog holds (listen_backlog).
const defaultMaxQueue = 511

// setDispatchDefaults fills dispatch and pm_max_queue when absent.
func (p *Pool) setDispatchDefaults(set func(key string) bool) {
	if p.Dispatch == "" {
		p.Dispatch = DispatchSocket
	}
	if !set("pm_max_queue") {
		p.PMMaxQueue = defaultMaxQueue
	}
}

// validateDispatch checks the three keys.
func (l *loader) validateDispatch(p *Pool, at func(string) keyPath) {
	pre := "pool \"" + p.Name + "\": "
	switch p.Dispatch {
	case DispatchSocket, DispatchMaster:
	default:
		l.errAt(at("dispatch"), "%sdispatch: %q is neither \"socket\" nor \"master\"", pre, p.Dispatch)
	}
	if p.PMMaxQueue < 0 {
		l.errAt(at("pm_max_queue"), "%spm_max_queue (%d) must not be negative", pre, p.PMMaxQueue)
	}
	if p.RequestQueueTimeout < 0 {
		l.errAt(at("request_queue_timeout"), "%srequest_queue_timeout must not be negative", pre)
	}
}

// DispatchByMaster reports whether the master accepts the pool's
// connections (dispatch = "master").
func (p *Pool) DispatchByMaster() bool { return p.Dispatch == DispatchMaster }
