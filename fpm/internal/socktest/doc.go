// Package socktest makes the real listeners, connections and worker
// processes that the tests of procfs, sockdiag and kstate run against.
// Every socket and process it makes is closed or killed by pid in
// t.Cleanup. It is for tests only, and empty outside Linux.
package socktest
