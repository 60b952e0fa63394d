package pii

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDictionaries checks the embedded data files: sizes, ranking, the
// exclusions that keep precision, and well-formed entries.
func TestDictionaries(t *testing.T) {
	if n := len(surnameList.single); n < 330 {
		t.Errorf("%d single surnames, want at least 330", n)
	}
	if n := len(surnameList.compound); n < 50 {
		t.Errorf("%d compound surnames, want at least 50", n)
	}
	for r, want := range map[rune]int{'王': 1, '李': 2, '张': 3} {
		if got := surnameList.rank[r]; got != want {
			t.Errorf("rank of %c = %d, want %d", r, got, want)
		}
	}
	for _, r := range "国东公红都通来银" { // words first, surnames rarely
		if surnameList.rank[r] != 0 {
			t.Errorf("%c is in the surname list: after a label it reads words as names", r)
		}
	}
	for _, c := range surnameList.compound {
		if utf8.RuneCountInString(c) != 2 {
			t.Errorf("compound surname %q is not two characters", c)
		}
	}

	set := make(map[string]bool, len(divisions))
	for _, d := range divisions {
		if set[d] {
			t.Errorf("division %q twice", d)
		}
		set[d] = true
		if utf8.RuneCountInString(d) < 2 {
			t.Errorf("division %q is shorter than two characters", d)
		}
		for _, r := range d {
			if !isHan(r) {
				t.Errorf("division %q has a non-Han character", d)
			}
		}
	}
	if len(divisions) < 3000 {
		t.Errorf("%d division names, want at least 3000", len(divisions))
	}
	provinces := 0
	for _, line := range strings.Split(divisionsData, "\n") {
		if strings.HasPrefix(line, "P ") {
			provinces++
		}
	}
	if provinces != 34 {
		t.Errorf("%d provincial-level divisions, want 34", provinces)
	}
	for _, w := range []string{"北京市", "广东", "伊金霍洛旗", "延边朝鲜族自治州", "大兴安岭地区", "兴安盟", "涉县", "义乌市", "浦东新区"} {
		if !set[w] {
			t.Errorf("%q missing", w)
		}
	}
	for _, w := range []string{"城区", "郊区", "东区", "矿区", "朝阳", "中山"} {
		if set[w] {
			t.Errorf("%q must not start an address: it is a word", w)
		}
	}
}
