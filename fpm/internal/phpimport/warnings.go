package phpimport

// Warnings: one per directive, several notes joined, in file and line order.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gofpm/gofpm/fpm/internal/oneline"
)

// warning is one warning line in the making: where, in which order it
// came, the directive, and its notes.
type warning struct {
	at    loc
	seq   int
	d     string
	parts []string
}

// warn adds a warning for the directive d at at; several notes on one
// directive become one warning, joined with "; ".
func (imp *importer) warn(at loc, d, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k := fmt.Sprintf("%d\x00%d\x00%s", at.idx, at.line, d)
	if w := imp.warnIdx[k]; w != nil {
		w.parts = append(w.parts, msg)
		return
	}
	w := &warning{at: at, seq: len(imp.warns), d: d, parts: []string{msg}}
	imp.warns = append(imp.warns, w)
	imp.warnIdx[k] = w
}

// warningLines returns the warnings in file order, then line order.
func (imp *importer) warningLines() []string {
	ws := append([]*warning(nil), imp.warns...)
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i], ws[j]
		if a.at.idx != b.at.idx {
			return a.at.idx < b.at.idx
		}
		if a.at.line != b.at.line {
			return a.at.line < b.at.line
		}
		return a.seq < b.seq
	})
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.d == "" {
			out = append(out, oneline.Escape(fmt.Sprintf("%s: %s", w.at.file, strings.Join(w.parts, "; "))))
			continue
		}
		out = append(out, oneline.Escape(fmt.Sprintf("%s: %s: %s", w.at, w.d, strings.Join(w.parts, "; "))))
	}
	return out
}
