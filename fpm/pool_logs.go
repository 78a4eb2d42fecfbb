package fpm

// This file reopens a pool's log files (SIGUSR1): the files are opened
// beside the loop, and the loop installs them, so that no spawn hands a
// child a file that is being closed.

import "os"

// reopenReq asks a pool to reopen its log files; done is closed once they
// are.
type reopenReq struct{ done chan struct{} }

// reopenedLogs are the files opened again for a reopenReq.
type reopenedLogs struct {
	req    reopenReq
	files  [2]*os.File // slowlog, access log; nil when unset or failed
	errors [2]error
}

// namedLog is a log file with the name the pool's log lines give it.
type namedLog struct {
	f    *LogFile // nil when unset
	name string
}

// logFiles are the pool's log files in the order they are reopened.
func (p *pool) logFiles() [2]namedLog {
	return [2]namedLog{{p.slow, "slowlog"}, {p.access, "access log"}}
}

// reopenLogs asks the pool loop to reopen the log files and waits until it
// has (or has stopped). Safe to call from any goroutine.
func (p *pool) reopenLogs() {
	if p.slow == nil && p.access == nil {
		return
	}
	req := reopenReq{done: make(chan struct{})}
	select {
	case p.reopenC <- req:
	case <-p.done:
		return
	}
	select {
	case <-req.done:
	case <-p.done:
	}
}

// openLogsBeside opens the files again in a goroutine of its own, which
// reports to the loop on p.reopened.
func (p *pool) openLogsBeside(req reopenReq) {
	logs := p.logFiles()
	go func() {
		r := reopenedLogs{req: req}
		for i, l := range logs {
			if l.f != nil {
				r.files[i], r.errors[i] = l.f.openAgain()
			}
		}
		select {
		case p.reopened <- r:
		case <-p.done:
			for _, f := range r.files {
				closeFile(f)
			}
		}
	}()
}

// installLogs puts the files opened again in place, in the loop, and logs
// each as php-fpm does.
func (p *pool) installLogs(r reopenedLogs) {
	defer close(r.req.done)
	for i, l := range p.logFiles() {
		if l.f == nil {
			continue
		}
		err := r.errors[i]
		if err == nil {
			err = l.f.install(r.files[i])
		}
		if err != nil {
			p.log.Error().Err(err).Msgf("[pool %s] unable to reopen the %s: %v", p.cfg.Name, l.name, err)
		} else {
			p.log.Info().Msgf("[pool %s] %s file re-opened", p.cfg.Name, l.name)
		}
	}
}
