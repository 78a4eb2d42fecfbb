package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCLI: Debian's stock www.conf, translated by
// gofpm import-php-fpm, passes gofpm check.
func TestImportCLI(t *testing.T) {
	dir := shortTempDir(t)
	out := filepath.Join(dir, "pool.toml")
	cmd := exec.Command(bins.gofpm, "import-php-fpm", "-o", out, "../internal/phpimport/testdata/debian/www.conf")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import-php-fpm: %v %q", err, b)
	}
	text, _ := os.ReadFile(out)
	for _, want := range []string{"[pool.www]", `pm = "dynamic"`, "pm_max_children = 5", `worker_graceful_signal = "SIGTERM"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("translation lacks %q:\n%s", want, text)
		}
	}
	b, err := exec.Command(bins.gofpm, "check", "-c", out, "-R").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "pool www: dynamic, 5 max children") {
		t.Fatalf("gofpm check of the translation: %v %q", err, b)
	}
	// No file: a usage error.
	if err := exec.Command(bins.gofpm, "import-php-fpm").Run(); err == nil {
		t.Errorf("import-php-fpm without a file succeeded")
	}
}
