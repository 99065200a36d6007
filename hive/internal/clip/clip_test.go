package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer text", 8, "a longer... (5 more bytes)"},
		// "é" is two bytes: a cut in its middle moves before it.
		{"café au lait", 4, "caf... (10 more bytes)"},
		{"ééé", 1, "... (6 more bytes)"},
	} {
		got := Text(tc.s, tc.max)
		if got != tc.want {
			t.Errorf("Text(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

func TestTextStaysValidUTF8(t *testing.T) {
	s := strings.Repeat("日本語", 200)
	for max := 0; max < 30; max++ {
		if got := Text(s, max); !utf8.ValidString(got) {
			t.Errorf("Text(..., %d) = %q is not valid UTF-8", max, got)
		}
	}
}
