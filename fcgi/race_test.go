//go:build race

package fcgi

// raceEnabled: the race detector makes sync.Pool drop some of what is put
// back, so allocation counts are not held under it.
const raceEnabled = true
