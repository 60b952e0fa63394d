package pii

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/custos-dev/custos/pii/corpus"
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
		{"1.2.3.4", 0, false}, // four digits: an IPv4 address
		{"42.7s", 5, true},    // glued to a lower-case letter: the token
		{"12ms=3", 4, true},
		{"12x ", 3, true},
		{"42.7S", 0, false},    // to a capital: numeric decides
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

// TestShortRunAsNumeric: where shortRun skips a run, numeric finds
// nothing in it and ends where shortRun ends.
func TestShortRunAsNumeric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const bytes = "0123456789 -.xXasz_+AB:@\xe4\xb8\x80"
	var d Detector
	for range 200000 {
		text := make([]byte, 1+r.IntN(12))
		text[0] = '0' + byte(r.IntN(10))
		for k := 1; k < len(text); k++ {
			text[k] = bytes[r.IntN(len(bytes))]
		}
		end, ok := shortRun(text, 0)
		if !ok {
			continue
		}
		got, gotEnd := d.numeric(nil, text, 0, false)
		if len(got) > 0 || gotEnd != end {
			t.Fatalf("shortRun(%q) = %d; numeric finds %v and ends at %d", text, end, got, gotEnd)
		}
	}
}

// hanAlphabet is what the Han loop's tests build text from: word anchors
// and the characters that complete their pairs, numerals and what follows
// them, full-width digits, plate provinces, traditional forms, common
// characters that start nothing, 3-byte sequences decode3 rejects
// (overlong, surrogate), and the bytes that end a Han run.
var hanAlphabet = []string{
	"北", "京", "市", "朝", "阳", "区", "客", "户", "姓", "名", "联", "系", "人", "地", "址",
	"收", "件", "张", "伟", "新", "疆", "粤", "上", "海", "大", "本", "常", "。", "，", "：",
	"一", "二", "三", "十", "零", "两", "个", "月", "号", "０", "１", "９", "Ａ",
	"戶", "張", "臺", "聯", "繫", "區", "的", "了", "是", "会", "议",
	"\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xe4\xbd", "\xe4",
	"A", "1", " ", "é", "𠀀", "\x80",
}

func randomHan(r *rand.Rand, n int) []byte {
	var b []byte
	for range n {
		b = append(b, hanAlphabet[r.IntN(len(hanAlphabet))]...)
	}
	return b
}

// TestHanSkip holds hanSkip to hanPasses: every character it passes is
// one hanPasses passes, on random text rich in anchors, pairs, numerals
// and malformed sequences.
func TestHanSkip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		text := randomHan(r, r.IntN(16))
		for j := 0; j <= len(text); j++ {
			got := hanSkip(text, j)
			if got < j || got > len(text) || (got-j)%3 != 0 {
				t.Fatalf("hanSkip(%q, %d) = %d", text, j, got)
			}
			for k := j; k < got; k += 3 {
				if !hanPasses(text, k) {
					t.Fatalf("hanSkip(%q, %d) = %d passes %q at %d, which hanPasses does not", text, j, got, text[k:k+3], k)
				}
			}
		}
	}
}

// TestHanSkipSameMatches: the first pass with hanSkip finds exactly what
// it finds with the per-character test alone, on the corpora and on
// random Han text.
func TestHanSkipSameMatches(t *testing.T) {
	var plain bytes.Buffer
	if _, err := corpus.WritePlain(&plain, 2<<20, 7); err != nil {
		t.Fatal(err)
	}
	dense, _ := corpus.Generate(11, 2<<20)
	texts := [][]byte{plain.Bytes(), dense}
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		texts = append(texts, randomHan(r, r.IntN(64)))
	}
	for _, text := range texts {
		sameWithPerChar(t, text)
	}
}

// sameWithPerChar: the first pass finds the same with the skip loops of
// this machine (skip_amd64.s where the CPU has AVX-512), with the Go skip
// loops alone and with the per-character Han test.
func sameWithPerChar(t *testing.T, text []byte) {
	t.Helper()
	var fast, scalar, slow Detector
	scalar.scalar = true
	slow.perChar, slow.scalar = true, true
	want := slow.AppendMatches(nil, text)
	if got := scalar.AppendMatches(nil, text); !slices.Equal(got, want) {
		t.Fatalf("with hanSkip %v, per character %v (text %q)", got, want, text[:min(len(text), 400)])
	}
	if got := fast.AppendMatches(nil, text); !slices.Equal(got, want) {
		t.Fatalf("with the vector loops %v, per character %v (text %q)", got, want, text[:min(len(text), 400)])
	}
}

// TestSkipVecSameMatches: on mixed text built from the cases skipVec
// passes over (tokens with digits, capitals and "name" inside, "Na",
// glued and dashed digits, malformed UTF-8, Han runs longer than a block)
// and the ones it must stop at, the first pass finds the same with it as
// without it.
func TestSkipVecSameMatches(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512 on this CPU")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 3000 {
		sameWithPerChar(t, randomMixed(r, 10+r.IntN(120)))
	}
}

// TestSkipVecBlockEdges: values and look-alikes at every offset from a
// block's start, so that each rule meets the bytes a block cannot see.
func TestSkipVecBlockEdges(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512 on this CPU")
	}
	probes := []string{"12A", "1A110105MA01ABCD2X", "91350100M000100Y43", "0 errors", "42.7s", "12ms", "1-2", "12.",
		"13812345678", "138 1234 5678", "11010519491231002X", "Name", "name：张伟", "ORDER2024", "A123456(7)", "张伟",
		"客户张伟", "京A12345", "一三八一二三四五六七八", "０１２", "a@b.com", "fe80::1", "+86 138 1234 5678"}
	for _, probe := range probes {
		for _, pad := range []string{"x", "x ", "中"} {
			for k := range 70 {
				text := []byte(strings.Repeat(pad, k) + " " + probe + " " + strings.Repeat("y", 140))
				sameWithPerChar(t, text)
			}
		}
	}
}

// TestSkipVecShortRuns: every digit run that skipVec passes, not inside
// a token, is one shortRun passes (fewer than four digits, single
// separators, a byte after it that cannot go on).
func TestSkipVecShortRuns(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512 on this CPU")
	}
	r := rand.New(rand.NewPCG(13, 14))
	const alphabet = "0123456789 -.xaZ_+:\xe4\xb8\x80"
	for range 20000 {
		text := make([]byte, 70+r.IntN(100))
		for k := range text {
			text[k] = "ab c"[r.IntN(4)] // mostly passed, so that blocks go far
			if r.IntN(6) == 0 {
				text[k] = alphabet[r.IntN(len(alphabet))]
			}
		}
		for i := 2; i+65 <= len(text); i++ {
			p := skipVec(text, i, &hanFlags[0], &vecPairs[0])
			for k := i; k < p; k++ {
				glued := isWord(text[k-1]) || (text[k-1] == '-' || text[k-1] == '.') && isWord(text[k-2])
				if !isDigit(text[k]) || glued {
					continue
				}
				if _, ok := shortRun(text, k); !ok {
					t.Fatalf("skipVec(%q, %d) = %d passes the digit run at %d, which shortRun does not", text, i, p, k)
				}
			}
		}
	}
}

var mixedPieces = []string{
	"The ", "report ", "name", "Name", "NAME", "_name", "x9name", "2name", "Xname", "nA", "Na", "Nb",
	"ORDER2024", "SKU-123", "abc-123", "a.1", "1.2.3.4", "42.7s", "0 errors", "v2", "12ms",
	"1 2 3", "1.2.3x", "1-2-3-4", "12.3.4", "1 2中", "1 2３", "1 23 4", "12 3a", "1.2 3", "1. 2",
	"13812345678", "138 1234 5678", "+86 138-1234-5678", "a@b.com", "fe80::1", ":", "@", "+",
	";<=>?", "E12345678", "A123456(7)", "GB82WEST12345698765432", "ABC123", "PNR", "PNR: ABC123",
	"11010519491231002X", "6222021234567890128", " ", " ", " ", "\n", ",", "-", ".", "_", "\t",
	"é", "\xe4\xbd", "\x80", "𠀀", "\xef\xbc\x91\xef\xbc\x93",
	"会议纪要已上传至共享目录请大家查阅本季度业绩同比增长", "数据中心完成了例行巡检，设备运行正常。",
	"姓名：张伟", "乘客王芳", "地址北京市朝阳区建国路88号", "京A12345", "一三八一二三四五六七八",
}

func randomMixed(r *rand.Rand, n int) []byte {
	var b []byte
	for range n {
		if r.IntN(4) == 0 {
			b = append(b, hanAlphabet[r.IntN(len(hanAlphabet))]...)
		} else {
			b = append(b, mixedPieces[r.IntN(len(mixedPieces))]...)
		}
	}
	return b
}

// FuzzHanSkip: the same on any input.
func FuzzHanSkip(f *testing.F) {
	f.Add([]byte("客户姓名：张伟，住址北京市朝阳区建国路88号，一二三〇。新疆"))
	f.Add([]byte("\xe0\x80\x80二\xed\xa0\x80北京 京A12345 ０１２３"))
	f.Add(randomMixed(rand.New(rand.NewPCG(1, 1)), 60))
	f.Fuzz(func(t *testing.T, text []byte) {
		sameWithPerChar(t, text)
		if len(text) > 0 && len(text) < 200 {
			// long enough for the vector loop's blocks
			sameWithPerChar(t, bytes.Repeat(text, 1+200/len(text)))
		}
	})
}

// TestIsWord: the table is letters, digits and '_'.
func TestIsWord(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
		if isWord(b) != want {
			t.Errorf("isWord(%q) = %v", b, !want)
		}
	}
}
