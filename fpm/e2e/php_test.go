package e2e

// PHP pools: php-fpm's PHP settings as imported by import-php-fpm, in force
// in php-cgi, and cgi.fix_pathinfo=0 by default.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needPHPCGI returns Debian's php-cgi 8.2 or skips (fails under CI).
func needPHPCGI(t *testing.T) string {
	t.Helper()
	const phpCGI = "/usr/bin/php-cgi8.2"
	if _, err := os.Stat(phpCGI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("php-cgi is not installed (make deps installs it)")
		}
		t.Skip("php-cgi8.2 not installed; run make deps")
	}
	return phpCGI
}

// TestPHPImportedAdminValue: a php-fpm pool with php_admin_value lines,
// translated by import-php-fpm and run by gofpm: phpinfo() shows the
// values in force, and cgi.fix_pathinfo off; a path such as
// /up/image.jpg/x.php does not run the image as PHP.
func TestPHPImportedAdminValue(t *testing.T) {
	needPHPCGI(t)
	dir := shortTempDir(t)
	ini := filepath.Join(dir, "app.conf")
	os.WriteFile(ini, []byte("[app]\nlisten = "+dir+"/php.sock\nlisten.mode = 0666\npm = static\npm.max_children = 1\n"+
		"php_admin_value[memory_limit] = 64M\nphp_value[max_execution_time] = 17\nphp_flag[display_errors] = off\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "info.php"), []byte("<?php phpinfo();"), 0o644)
	os.MkdirAll(filepath.Join(dir, "up"), 0o755)
	os.WriteFile(filepath.Join(dir, "up", "image.jpg"), []byte("<?php echo 'IMAGE RAN AS PHP';"), 0o644)
	toml := filepath.Join(dir, "imported.toml")
	if b, err := exec.Command(bins.gofpm, "import-php-fpm", "-o", toml, ini).CombinedOutput(); err != nil {
		t.Fatalf("import-php-fpm: %v %q", err, b)
	}
	text, _ := os.ReadFile(toml)
	if !strings.Contains(string(text), "[pool.app.php_admin_value]\nmemory_limit = \"64M\"") {
		t.Fatalf("the translation has no php_admin_value table:\n%s", text)
	}
	startMaster(t, dir, string(text))
	sock := filepath.Join(dir, "php.sock")
	code, body := fcgiGet(t, sock, "/info.php", "SCRIPT_FILENAME", filepath.Join(dir, "info.php"))
	if code != 200 {
		t.Fatalf("phpinfo() = %d %.300q", code, body)
	}
	for _, want := range []string{
		`<td class="e">memory_limit</td><td class="v">64M</td>`,
		`<td class="e">max_execution_time</td><td class="v">17</td>`,
		`<td class="e">display_errors</td><td class="v">Off</td>`,
		`<td class="e">cgi.fix_pathinfo</td><td class="v">Off</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("phpinfo() lacks %s", want)
		}
	}
	// A web server that passes the whole path (no try_files) must not get
	// the image run: with cgi.fix_pathinfo=1 php-cgi walks up to image.jpg.
	code, body = fcgiGet(t, sock, "/up/image.jpg/x.php", "SCRIPT_FILENAME", filepath.Join(dir, "up/image.jpg/x.php"))
	if strings.Contains(body, "IMAGE RAN AS PHP") || code != 404 {
		t.Errorf("/up/image.jpg/x.php = %d %.200q, want 404 and the image not run", code, body)
	}
}
