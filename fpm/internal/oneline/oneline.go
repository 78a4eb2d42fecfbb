// Package oneline keeps a message on one line, for error and warning lines
// of the form "FILE:LINE: message" that name user-written text.
package oneline

import "strings"

// Escape returns s with each "\r" and "\n" written as the two characters
// `\r` and `\n`, so that a name or value holding a line break cannot split
// the message it is quoted in.
func Escape(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}
