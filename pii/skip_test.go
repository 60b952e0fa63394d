package pii

import (
	"math/rand/v2"
	"testing"
)

// TestSkipPlain holds the eight-bytes-at-a-time skip to the byte-by-byte
// rule it implements, on random text rich in the boundary bytes.
func TestSkipPlain(t *testing.T) {
	stops := func(c byte) bool {
		return c >= 0x80 || c >= '0' && c <= 'Z' || c == '+' || c == 'n'
	}
	alphabet := []byte("abcmnoz +-./_,;:@?[\\]^`{|}~0129AZ\x00\x7f\x80\xe4\xbd\xa0\x2f\x5b\x2a\x6d\x6f\xab\xae\xee")
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		text := make([]byte, r.IntN(40))
		for k := range text {
			if r.IntN(4) == 0 {
				text[k] = byte(r.IntN(256))
			} else {
				text[k] = alphabet[r.IntN(len(alphabet))]
			}
		}
		for i := 0; i <= len(text); i++ {
			got := skipPlain(text, i)
			if got < i || got > len(text) {
				t.Fatalf("skipPlain(%q, %d) = %d: out of range", text, i, got)
			}
			// Never skip a byte the first pass acts on (all but the
			// lower-case letters, which start nothing, except the n of
			// "name").
			for k := i; k < got; k++ {
				c := text[k]
				na := c == 'n' && (k+1 == len(text) || text[k+1] == 'a')
				if byteClass[c] != clsNone && !(c >= 'a' && c <= 'z' && !na) {
					t.Fatalf("skipPlain(%q, %d) = %d skips %q at %d", text, i, got, c, k)
				}
			}
			// Stop only at a byte that may matter.
			if got < len(text) && !stops(text[got]) && byteClass[text[got]] == clsNone {
				t.Fatalf("skipPlain(%q, %d) = %d stops at %q", text, i, got, text[got])
			}
		}
	}
}

// TestShortRun: runs of fewer than four ASCII digits are skipped only
// where no number can go on.
func TestShortRun(t *testing.T) {
	for _, tc := range []struct {
		text string
		end  int
		ok   bool
	}{
		{"0 errors", 1, true},
		{"42.7 s", 4, true},
		{"1.2.3", 5, true},
		{"1.2.3.4", 0, false},  // four digits: an IPv4 address
		{"42.7s", 0, false},    // glued to a letter: numeric decides
		{"138 ００１３", 0, false}, // mixed widths go on
		{"13８", 0, false},
		{"12 三", 0, false},
		{"123X", 0, false},
		{"1+", 0, false},
		{"12,", 2, true},
	} {
		end, ok := shortRun([]byte(tc.text), 0)
		if end != tc.end || ok != tc.ok {
			t.Errorf("shortRun(%q) = %d, %v; want %d, %v", tc.text, end, ok, tc.end, tc.ok)
		}
	}
}
