// Package clip shortens text that came from outside before hive logs it or
// passes it on: an event, or an error that quotes one, may be megabytes
// long, and a log line or an error message must not be.
package clip

import (
	"fmt"
	"unicode/utf8"
)

// ForLog is how much of such a text goes into a log line or a dead
// letter's reason, in bytes.
const ForLog = 300

// Text returns s if it is at most max bytes long. Otherwise it returns at
// most max bytes of its start, cut before a UTF-8 character so that the
// result stays valid text, and says how many bytes were left out.
func Text(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s... (%d more bytes)", s[:n], len(s)-n)
}
