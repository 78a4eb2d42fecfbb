package fpm

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// writePIDFile writes pid to path atomically (temporary file, then rename),
// so a reader never sees an empty or partial file.
func writePIDFile(path string, pid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	_, err = tmp.WriteString(strconv.Itoa(pid) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

// removePIDFile removes path if it still holds pid (a newer master may have
// replaced it).
func removePIDFile(path string, pid int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if n, err := strconv.Atoi(string(trimNL(b))); err == nil && n == pid {
		os.Remove(path)
	}
}

// ReadPIDFile returns the pid stored in path.
func ReadPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(trimNL(b)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("pid file %s does not hold a pid", path)
	}
	return n, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
