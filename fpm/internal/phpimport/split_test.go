package phpimport_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/phpimport"
)

// TestImportSplit: Debian's php-fpm.conf with two pools in pool.d/ becomes
// a main file with include = ["pool.d/*.toml"] and one file per pool, which
// Load reads back as the single-file translation.
func TestImportSplit(t *testing.T) {
	dir := t.TempDir()
	main := importWrite(t, dir, "php-fpm.conf", "[global]\npid = /run/php/php8.2-fpm.pid\ninclude = "+dir+"/pool.d/*.conf\n")
	importWrite(t, dir, "pool.d/www.conf", "[www]\nuser = www-data\nlisten = /run/php/www.sock\npm = static\npm.max_children = 4\n")
	importWrite(t, dir, "pool.d/api.conf", "[api]\nuser = www-data\nlisten = 127.0.0.1:9001\npm = ondemand\npm.max_children = 2\n")
	o := phpimport.Options{PHPCGI: importTestPHPCGI}
	head, pools, warns, err := phpimport.ImportSplit([]string{main}, o, "pool.d/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	importWantWarnings(t, warns, nil)
	if !strings.Contains(string(head), "\ninclude = [\"pool.d/*.toml\"]\n") || strings.Contains(string(head), "[pool.") {
		t.Errorf("main file:\n%s", head)
	}
	var names []string
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "gofpm.toml"), head, 0o644)
	os.Mkdir(filepath.Join(out, "pool.d"), 0o755)
	for _, p := range pools {
		names = append(names, p.Name)
		if strings.Count(string(p.TOML), "[pool.") != 1 {
			t.Errorf("%s.toml holds other pools:\n%s", p.Name, p.TOML)
		}
		os.WriteFile(filepath.Join(out, "pool.d", p.Name+".toml"), p.TOML, 0o644)
	}
	if !slices.Equal(names, []string{"api", "www"}) { // pool.d/*.conf in glob order
		t.Errorf("pool files %v", names)
	}
	cfg, err := config.Load(filepath.Join(out, "gofpm.toml"), config.LoadOptions{AllowRoot: true, SkipCommandCheck: true})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	one, _ := importOK(t, []string{main}, o)
	want := importLoad(t, one)
	if !slices.Equal(cfg.PoolOrder, want.PoolOrder) || cfg.Pid != want.Pid || cfg.Pools["www"].PMMaxChildren != 4 || cfg.Pools["api"].PM != "ondemand" {
		t.Errorf("split: pools %v pid %q; one file: pools %v pid %q", cfg.PoolOrder, cfg.Pid, want.PoolOrder, want.Pid)
	}
}

// TestImportAdminLock: php_admin_value's lock against changes is lost
// only for the settings a script could change: ini_set() for
// PHP_INI_ALL, a .user.ini for PHP_INI_PERDIR; PHP_INI_SYSTEM settings
// (sendmail_path) get no such note.
func TestImportAdminLock(t *testing.T) {
	dir := t.TempDir()
	f := importWrite(t, dir, "www.conf", "[www]\nlisten = /run/php/www.sock\npm = static\npm.max_children = 1\n"+
		"php_admin_value[sendmail_path] = /usr/sbin/sendmail -t -i\n"+
		"php_admin_value[upload_max_filesize] = 8M\n"+
		"php_admin_value[memory_limit] = 64M\n"+
		"php_admin_flag[allow_url_fopen] = off\n")
	_, warns := importOK(t, []string{f}, phpimport.Options{})
	importWantWarnings(t, warns, []string{
		f + `:6: php_admin_value[upload_max_filesize]: kept as php_admin_value; a .user.ini file in a script's folder can now change it (php-cgi reads them), which php_admin_value prevented`,
		f + `:7: php_admin_value[memory_limit]: kept as php_admin_value; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_value prevented`,
	})
}
