package fpm

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/sockets"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Options are the master's settings that come from the command line.
type Options struct {
	// LogFile, when error_log is a file, is reopened on SIGUSR1.
	LogFile *LogFile
	// PIDFile overrides the config's pid (--pid).
	PIDFile string
	// LoadOptions are used again to validate the configuration on reload.
	LoadOptions config.LoadOptions
	// Executable is the gofpm binary a reload starts (the path the master
	// was started from, so a binary replaced there takes over).
	Executable string
	// Version is logged at start, so a reload shows which binary took over.
	Version string
	// JSONLog tells that the error log is JSON: a worker's output line that
	// is a JSON object is logged as an object, at its own level.
	JSONLog bool
}

// Master runs the pools of one configuration. Its owner (main, which owns
// the signals, or a test) drives it with Reload, Reopen and Stop, from any
// goroutine; Run's loop never blocks on what they start.
type Master struct {
	cfg   *config.Config
	log   zerolog.Logger
	opt   Options
	pools []*pool
	front *front
	pages []*pageServer // pm_status_listen servers

	metrics    *metricsSource // the /metrics page (front and metrics_listen)
	metricsSrv *metricsServer // metrics_listen; nil when unset

	socks     *sockets.Set // every listening socket: inherited, created, handed over
	reloaded  bool         // started by a reload: a predecessor waits for us
	successor int          // pid of the master that took over after a reload

	faultMu sync.Mutex
	faults  []time.Time // recent SIGSEGV/SIGBUS deaths, for emergency restart

	cmds    chan command   // from Reload, Reopen and Stop, to Run's loop
	done    chan struct{}  // closed when Run returns
	loopEnd chan struct{}  // closed when Run's loop returns (ends the systemd heartbeat)
	beside  sync.WaitGroup // what the loop started beside itself (reopens)
}

// onFault records a worker death by SIGSEGV or SIGBUS. When
// emergency_restart_threshold of them fall within
// emergency_restart_interval, every worker of every pool is recycled
// gracefully (php-fpm reloads the whole master; gofpm's workers are what
// crashed, so they are what is restarted). Called from the pools' loops.
func (m *Master) onFault(at time.Time) {
	n, window := m.cfg.EmergencyRestartThreshold, m.cfg.EmergencyRestartInterval.D()
	if n <= 0 || window <= 0 {
		return
	}
	m.faultMu.Lock()
	m.faults = append(m.faults, at)
	if len(m.faults) > n {
		m.faults = m.faults[len(m.faults)-n:]
	}
	hit := len(m.faults) == n && at.Sub(m.faults[0]) <= window
	if hit {
		m.faults = nil
	}
	m.faultMu.Unlock()
	if !hit {
		return
	}
	m.log.Warn().Msgf("failed processes threshold (%d in %s) is reached, initiating a restart of every worker", n, window)
	m.recycleAll("emergency restart")
}

// recycleAll asks every pool to replace all its workers gracefully.
func (m *Master) recycleAll(why string) {
	for _, p := range m.pools {
		select {
		case p.recycle <- why:
		default: // a recycle is already pending
		}
	}
}

// New returns a master for cfg; cfg must come from Load.
func New(cfg *config.Config, log zerolog.Logger, opt Options) *Master {
	return &Master{cfg: cfg, log: log, opt: opt, cmds: make(chan command, 8), done: make(chan struct{}), loopEnd: make(chan struct{})}
}

// Run starts the pools and serves until Stop or until ctx is done (a fast
// stop). Requests made before Run are carried out once the pools are up.
// It returns nil after a clean stop.
func (m *Master) Run(ctx context.Context) (err error) {
	defer close(m.done)
	m.log.Info().Int("pid", os.Getpid()).Str("version", m.opt.Version).Msgf("fpm is running, pid %d", os.Getpid())
	m.log.Info().Msgf("gofpm version %s", m.opt.Version)
	m.socks = sockets.New(sockProbe())
	inherited, err := takeInherited(m.socks)
	if err != nil {
		return err
	}
	if !inherited { // not a reload: systemd may have passed sockets
		if err := socketActivation(m.socks); err != nil {
			return err
		}
	}
	if os.Getpid() == 1 {
		// A container's init: orphans of the namespace become ours.
		enableReaper()
		done := make(chan struct{})
		defer close(done)
		go m.reapLoop(done)
	}
	if err := m.start(); err != nil {
		m.closeSockets()
		return err
	}
	pidFile := m.opt.PIDFile
	if pidFile == "" {
		pidFile = m.cfg.Pid
	}
	// After a reload the pid file changes hands only once this master is
	// ready (gofpm reload waits for that); otherwise it is written now.
	if pidFile != "" && !m.reloaded {
		if err := writePIDFile(pidFile, os.Getpid()); err != nil {
			m.stop(false)
			return err
		}
	}
	if pidFile != "" {
		defer removePIDFile(pidFile, os.Getpid())
	}
	m.log.Info().Msg("ready to handle connections")
	m.socks.CloseInherited() // pools the new configuration dropped
	go m.announceReady(pidFile)
	m.loop(ctx)
	close(m.loopEnd)
	m.beside.Wait()
	m.log.Info().Msg("exiting, bye-bye!")
	return nil
}

// start creates every pool's socket, starts the children and the HTTP front.
func (m *Master) start() error {
	for _, name := range m.cfg.PoolOrder {
		pc := m.cfg.Pools[name]
		sock, err := listen(m, pc, pc.ListenAddr, pc.Name, m.socks.Listen)
		if err != nil {
			return fmt.Errorf("pool %q: %w", name, err)
		}
		p, err := newPool(pc, m.cfg, m.log, sock, m.opt.Executable, m.opt.JSONLog)
		if err != nil {
			sock.Close()
			return err
		}
		p.fault = m.onFault
		m.pools = append(m.pools, p)
	}
	for _, p := range m.pools {
		if p.cfg.PMStatusListen == "" {
			continue
		}
		// Inherited too, by its address or "<pool>-status".
		ln, err := listen(m, p.cfg, p.cfg.StatusAddr, p.cfg.Name+"-status", m.socks.Listener)
		if err != nil {
			return fmt.Errorf("pool %q: pm_status_listen: %w", p.cfg.Name, err)
		}
		m.pages = append(m.pages, newPageServer(p, ln))
	}
	m.metrics = newMetricsSource(m.pools, m.opt.Version)
	if m.cfg.MetricsAddr.Network != "" {
		ms, err := newMetricsServer(m.socks, m.cfg.MetricsAddr, m.metrics, m.log)
		if err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
		m.metricsSrv = ms
	}
	if m.cfg.HTTP != nil && m.cfg.HTTP.Listen != "" {
		l := m.cfg.HTTP.Listen // inherited by name "http", or a systemd socket by its address alone
		ln, _, err := m.socks.GoListener(sockets.Spec{Network: "tcp", Address: l, Key: "http:" + l, Names: []string{"http"}, Aliases: []string{l}})
		if err != nil {
			return err
		}
		f, err := newFront(m.cfg, m.log, m.pools, ln, m.metrics.handler())
		if err != nil {
			return err
		}
		m.front = f
	}
	for _, p := range m.pools {
		go p.run()
	}
	for _, ps := range m.pages {
		go ps.serve()
	}
	if m.front != nil {
		go m.front.serve()
	}
	if m.metricsSrv != nil {
		go m.metricsSrv.serve(m.log)
	}
	return nil
}

// announceReady tells a predecessor master, if there is one, that this
// master's workers are ready, so it can retire its own.
func (m *Master) announceReady(pidFile string) {
	deadline := time.After(readyTimeout)
	for _, p := range m.pools {
		select {
		case <-p.ready:
		case <-deadline:
			m.log.Warn().Msgf("[pool %s] workers not ready within %s", p.cfg.Name, readyTimeout)
		}
	}
	if m.reloaded && pidFile != "" {
		if err := writePIDFile(pidFile, os.Getpid()); err != nil {
			m.log.Error().Err(err).Msgf("%v", err)
		}
	}
	signalReady()
	// MAINPID: after a reload systemd must follow the new master.
	sdNotify(fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=Ready to handle connections", os.Getpid()))
	m.systemdMonitor(m.loopEnd)
}

// listen has open, one of the socket set's methods, create the socket at
// addr (a pool's listen or pm_status_listen) with pc's listen_* settings,
// or take the one a previous master handed over (found by addr or name),
// whose allowed-clients filter the set brings up to date.
func listen[S any](m *Master, pc *config.Pool, addr config.Addr, name string, open func(sockets.Spec) (S, int, error)) (s S, err error) {
	spec, warnings := socketSpec(pc, addr, name)
	s, inheritedFD, err := open(spec)
	if inheritedFD >= 0 {
		m.log.Info().Msgf("using inherited socket fd=%d, %q", inheritedFD, addr.Address)
		return s, nil
	}
	for _, w := range warnings {
		m.log.Warn().Str("pool", pc.Name).Msgf("[pool %s] %s", pc.Name, w)
	}
	return s, err
}

// stop shuts everything down. Order matters: on a graceful stop the HTTP
// front drains first, while the workers still serve what it passes them
// (a request it accepted last would otherwise wait on a pool that no
// longer accepts until process_control_timeout); then the pools stop
// their children (graceful: requests in flight finish), and only when no
// child is left are the sockets closed and removed. A fast stop does both
// at once.
func (m *Master) stop(graceful bool) {
	var wg sync.WaitGroup
	if m.front != nil {
		if graceful {
			m.front.shutdown(true, m.cfg.ProcessControlTimeout.D())
		} else {
			wg.Go(func() { m.front.shutdown(false, 0) })
		}
	}
	for _, p := range m.pools {
		wg.Go(func() { p.stop(graceful) })
	}
	wg.Wait()
	for _, ps := range m.pages {
		ps.close()
	}
	if m.metricsSrv != nil {
		m.metricsSrv.close()
	}
	m.closeSockets()
}

// closeSockets closes every socket and removes the socket files, unless a
// successor has them now (or systemd owns them).
func (m *Master) closeSockets() {
	m.socks.Close(m.successor == 0, func(path string, err error) {
		m.log.Warn().Err(err).Msgf("removing socket %s: %v", path, err)
	})
}

// reopenLogs is SIGUSR1, as php-fpm: reopen the error log and the pools'
// log files, then recycle every worker gracefully so that workers writing
// logs of their own (access log) start over on the new files. It runs
// beside the master's loop; each pool installs its files in its own loop.
func (m *Master) reopenLogs() {
	defer m.recycleAll("log files reopened")
	for _, p := range m.pools {
		p.reopenLogs()
	}
	if m.opt.LogFile == nil {
		return
	}
	if err := m.opt.LogFile.Reopen(); err != nil {
		m.log.Error().Err(err).Msg("unable to reopen the error log")
		return
	}
	m.log.Info().Msg("error log file re-opened")
}

// reapLoop reaps the orphans a PID 1 master inherits, on SIGCHLD and once a
// second (signals coalesce), until done is closed. Only pids the master did
// not start are reaped (reapOrphans), so every worker's exit status still
// reaches its pool. Reaping them is routine for an init: logged at debug.
func (m *Master) reapLoop(done <-chan struct{}) {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, unix.SIGCHLD)
	defer signal.Stop(sigc)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-sigc:
		case <-tick.C:
		}
		for _, pid := range reapOrphans() {
			m.log.Debug().Int("pid", pid).Msgf("reaped orphan process %d", pid)
		}
	}
}
