package phpimport

// Who may change a php.ini setting once it is a -d option of php-cgi
// instead of php-fpm's php_admin_value: php_admin_value locks a setting
// against ini_set() and .user.ini files; -d does not. What a script could
// then do depends on the setting's changeable mode in php-src (the
// PHP_INI_ENTRY lines of main/main.c and the extensions):
//   - PHP_INI_SYSTEM: nothing; only php.ini and -d set it, so moving it to
//     -d changes nothing and deserves no warning;
//   - PHP_INI_SYSTEM|PHP_INI_PERDIR: not ini_set(), but a .user.ini in a
//     script's folder (php-cgi reads them);
//   - PHP_INI_ALL (most settings, and any not listed here): ini_set().

import "strings"

// iniMode is how a setting may be changed after start.
type iniMode int

const (
	iniAll    iniMode = iota // PHP_INI_ALL: ini_set() and .user.ini
	iniPerdir                // PHP_INI_SYSTEM|PHP_INI_PERDIR: .user.ini
	iniSystem                // PHP_INI_SYSTEM: php.ini and -d only
)

// iniModes lists the settings that are not PHP_INI_ALL, as php-src 8.2
// declares them; a setting not listed is taken as PHP_INI_ALL.
var iniModes = map[string]iniMode{
	// main/main.c
	"sendmail_path": iniSystem, "disable_functions": iniSystem, "disable_classes": iniSystem,
	"allow_url_fopen": iniSystem, "allow_url_include": iniSystem, "browscap": iniSystem,
	"realpath_cache_size": iniSystem, "realpath_cache_ttl": iniSystem, "user_dir": iniSystem,
	"upload_tmp_dir": iniSystem, "file_uploads": iniSystem, "expose_php": iniSystem,
	"enable_dl": iniSystem, "doc_root": iniSystem, "sys_temp_dir": iniSystem,
	"user_ini.filename": iniSystem, "user_ini.cache_ttl": iniSystem, "hard_timeout": iniSystem,
	"upload_max_filesize": iniPerdir, "post_max_size": iniPerdir, "max_input_time": iniPerdir,
	"max_input_vars": iniPerdir, "max_input_nesting_level": iniPerdir, "max_file_uploads": iniPerdir,
	"max_multipart_body_parts": iniPerdir, "short_open_tag": iniPerdir, "output_buffering": iniPerdir,
	"output_handler": iniPerdir, "auto_prepend_file": iniPerdir, "auto_append_file": iniPerdir,
	"variables_order": iniPerdir, "request_order": iniPerdir, "register_argc_argv": iniPerdir,
	"auto_globals_jit": iniPerdir, "enable_post_data_reading": iniPerdir, "mail.log": iniPerdir,
	"mail.add_x_header": iniPerdir, "mail.force_extra_parameters": iniPerdir,
	// sapi/cgi
	"cgi.fix_pathinfo": iniSystem, "cgi.force_redirect": iniSystem, "cgi.redirect_status_env": iniSystem,
	"cgi.discard_path": iniSystem, "fastcgi.logging": iniSystem,
	// ext/opcache (opcache.enable, validate_timestamps and revalidate_freq are PHP_INI_ALL)
	"opcache.memory_consumption": iniSystem, "opcache.interned_strings_buffer": iniSystem,
	"opcache.max_accelerated_files": iniSystem, "opcache.jit_buffer_size": iniSystem,
	"opcache.preload": iniSystem, "opcache.preload_user": iniSystem, "opcache.file_cache": iniSystem,
	"opcache.enable_cli": iniSystem, "opcache.restrict_api": iniSystem, "opcache.lockfile_path": iniSystem,
	// ext/session
	"session.auto_start": iniPerdir,
}

// modeOf is the changeable mode of a setting (names are case-insensitive).
func modeOf(key string) iniMode {
	return iniModes[strings.ToLower(key)]
}

// lockNote is what the loss of php_admin_value's lock means for key, or ""
// when nothing can change it anyway (PHP_INI_SYSTEM).
func lockNote(key, kind string) string {
	switch modeOf(key) {
	case iniSystem:
		return ""
	case iniPerdir:
		return "; a .user.ini file in a script's folder can now change it (php-cgi reads them), which " + kind + " prevented"
	}
	return "; scripts can now change it with ini_set() and a .user.ini file can override it, which " + kind + " prevented"
}
