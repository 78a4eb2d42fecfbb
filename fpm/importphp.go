package fpm

// `gofpm import-php-fpm` lives in package phpimport; main cannot import a
// package under fpm/internal, so package fpm hands it on.

import "github.com/gofpm/gofpm/fpm/internal/phpimport"

// ImportOptions control a translation (see phpimport.Options).
type ImportOptions = phpimport.Options

// ImportPHPFPM translates php-fpm ini files (php-fpm.conf with its
// include= globs, and pool files) to gofpm TOML, with one warning per
// directive that has no meaning in gofpm or was changed (see
// phpimport.Import).
func ImportPHPFPM(files []string, o ImportOptions) (toml []byte, warnings []string, err error) {
	return phpimport.Import(files, o)
}

// ImportedPool is one pool's TOML for a drop-in folder.
type ImportedPool = phpimport.PoolFile

// ImportPHPFPMSplit is ImportPHPFPM with one file per pool: main holds the
// global settings and include = [include].
func ImportPHPFPMSplit(files []string, o ImportOptions, include string) (main []byte, pools []ImportedPool, warnings []string, err error) {
	return phpimport.ImportSplit(files, o, include)
}
