//go:build race

package fpm_test

const raceEnabled = true
