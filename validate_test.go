package custos

import (
	"regexp"
	"strings"
	"testing"
)

// idPattern is the rule validID implements, kept as the reference.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$`)

func TestValidID(t *testing.T) {
	for _, id := range []string{
		"", "e-1", "E", "9", "-x", ".x", "a b", "a\\nb", "ORD2024/11:x@y+z=w.v_u-t", "é1", "a\x00", "a" + strings.Repeat("b", 127), "a" + strings.Repeat("b", 128),
		"1" + string([]byte{0xC3, 0xA9}), "A|B", "a~b",
	} {
		if got, want := validID(id), idPattern.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"e-1", "", "-x", "a b", "a" + strings.Repeat("b", 128)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validID(id), idPattern.MatchString(id); got != want {
			t.Fatalf("validID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}
