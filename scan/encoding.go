package scan

import (
	"context"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Text encodings other than UTF-8 that the scanner decodes before the
// detectors run. Findings in decoded text keep offsets and lengths in
// bytes of the original file: the decoder remembers, for every UTF-8
// byte it writes, where its character started in the input.
const (
	encUTF16LE = "utf-16le"
	encUTF16BE = "utf-16be"
	encGB18030 = "gb18030"
)

// textEncoding decides how a text stream is encoded from its first bytes
// (head; complete when head is the whole stream). A UTF-16 byte order
// mark decides first. Otherwise text that is not valid UTF-8 and reads
// cleanly as GB18030, mostly in the GB2312 range (the characters of
// everyday simplified Chinese), is GB18030 — which includes GBK and
// GB2312, what Chinese Excel and Windows programs export. Anything else
// ("" ) is scanned as bytes.
func textEncoding(head []byte, complete bool) string {
	switch {
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		return encUTF16LE
	case len(head) >= 2 && head[0] == 0xFE && head[1] == 0xFF:
		return encUTF16BE
	}
	if validUTF8Prefix(head, complete) {
		return ""
	}
	if looksGB18030(head) {
		return encGB18030
	}
	return ""
}

// validUTF8Prefix reports whether head is valid UTF-8, allowing a
// character cut at the end of an incomplete head.
func validUTF8Prefix(head []byte, complete bool) bool {
	if utf8.Valid(head) {
		return true
	}
	if complete {
		return false
	}
	for cut := 1; cut <= utf8.UTFMax-1 && cut <= len(head); cut++ {
		if utf8.Valid(head[:len(head)-cut]) {
			return !utf8.FullRune(head[len(head)-cut:])
		}
	}
	return false
}

// looksGB18030 reports whether head is well-formed GB18030 with at least
// one multi-byte character, and at least 80 % of its two-byte characters
// in the GB2312 range (lead 0xA1–0xF7, trail 0xA1–0xFE). The last rule
// keeps Big5 (structurally a subset of GBK, but with half of its trail
// bytes below 0xA1) and stray Latin-1 bytes out: precision first.
func looksGB18030(head []byte) bool {
	two, common, four := 0, 0, 0
	for i := 0; i < len(head); {
		c := head[i]
		if c < 0x80 {
			i++
			continue
		}
		if c == 0x80 || c == 0xFF {
			return false
		}
		n := gbSeqLen(head[i:])
		switch n {
		case 0: // cut at the end of head (or of a truncated file)
			return two+four > 0 && common*10 >= two*8
		case 2:
			two++
			if d := head[i+1]; c >= 0xA1 && c <= 0xF7 && d >= 0xA1 {
				common++
			}
		case 4:
			four++
		default:
			return false
		}
		i += n
	}
	return two+four > 0 && common*10 >= two*8
}

// gbSeqLen is the length of the GB18030 character at the start of b
// (whose first byte is ≥ 0x80): 2 or 4 when well-formed, 0 when b ends
// inside it, 1 when it is malformed.
func gbSeqLen(b []byte) int {
	c := b[0]
	if c < 0x81 || c > 0xFE {
		return 1
	}
	if len(b) < 2 {
		return 0
	}
	d := b[1]
	switch {
	case d >= 0x30 && d <= 0x39:
		if len(b) < 4 {
			if len(b) == 3 && (b[2] < 0x81 || b[2] > 0xFE) {
				return 1
			}
			return 0
		}
		if b[2] < 0x81 || b[2] > 0xFE || b[3] < 0x30 || b[3] > 0x39 {
			return 1
		}
		return 4
	case d >= 0x40 && d <= 0xFE && d != 0x7F:
		return 2
	}
	return 1
}

// gbTwoByte maps every two-byte GB18030 code to its character, built once
// from golang.org/x/text's decoder (a table lookup per character instead
// of a Transform call).
var gbTwoByte = sync.OnceValue(func() []rune {
	t := make([]rune, 126*191)
	dec := simplifiedchinese.GB18030.NewDecoder()
	var out [8]byte
	for c := 0x81; c <= 0xFE; c++ {
		for d := 0x40; d <= 0xFE; d++ {
			r := utf8.RuneError
			if d != 0x7F {
				dec.Reset()
				n, _, err := dec.Transform(out[:], []byte{byte(c), byte(d)}, true)
				if err == nil {
					if x, size := utf8.DecodeRune(out[:n]); size == n {
						r = x
					}
				}
			}
			t[(c-0x81)*191+d-0x40] = r
		}
	}
	return t
})

// decoder turns a UTF-16 or GB18030 stream into UTF-8. Malformed input
// becomes U+FFFD for the bytes it covers; it never fails on content.
type decoder struct {
	r    io.Reader
	enc  string
	raw  []byte
	rs   int   // raw[rs:re] is read but not yet decoded
	re   int   //
	pos  int64 // offset in the original stream of raw[rs]
	eof  bool  // r is exhausted
	err  error // a read error other than EOF
	gb   transform.Transformer
	gb2  []rune
	skip int // bytes of byte order mark still to skip
}

func newDecoder(r io.Reader, enc string) *decoder {
	d := &decoder{r: r, enc: enc, raw: make([]byte, 64<<10)}
	if enc == encGB18030 {
		d.gb = simplifiedchinese.GB18030.NewDecoder()
		d.gb2 = gbTwoByte()
	} else {
		// The byte order mark is not text; offsets still count it.
		d.skip = 2
	}
	return d
}

// more reads input until at least need undecoded bytes are buffered or
// the input ends.
func (d *decoder) more(need int) {
	if d.re-d.rs >= need || d.eof || d.err != nil {
		return
	}
	if d.rs > 0 {
		copy(d.raw, d.raw[d.rs:d.re])
		d.re -= d.rs
		d.rs = 0
	}
	for d.re-d.rs < need && !d.eof && d.err == nil {
		n, err := d.r.Read(d.raw[d.re:])
		d.re += n
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			d.err = err
		}
	}
}

// decode writes UTF-8 into dst and, for each byte written, the offset of
// its character in the original stream minus base into orig. It stops
// when dst has no room for another character or the input ends (done).
// orig[n] is then the offset (minus base) where decoding will go on.
func (d *decoder) decode(dst []byte, orig []int32, base int64) (n int, done bool, err error) {
	var tmp [8]byte
	for len(dst)-n >= utf8.UTFMax {
		d.more(4)
		if d.skip > 0 && d.re-d.rs >= d.skip {
			d.rs += d.skip
			d.pos += int64(d.skip)
			d.skip = 0
		}
		avail := d.raw[d.rs:d.re]
		if len(avail) == 0 {
			break
		}
		var r rune
		var size int
		switch d.enc {
		case encUTF16LE, encUTF16BE:
			r, size = d.utf16(avail)
		default:
			r, size = d.gb18030(avail, tmp[:])
		}
		at := int32(d.pos - base)
		if r < utf8.RuneSelf {
			dst[n] = byte(r)
			orig[n] = at
			n++
		} else {
			w := utf8.EncodeRune(dst[n:], r)
			for k := range w {
				orig[n+k] = at
			}
			n += w
		}
		d.rs += size
		d.pos += int64(size)
	}
	orig[n] = int32(d.pos - base)
	if d.err != nil {
		return n, true, d.err
	}
	return n, d.eof && d.rs == d.re, nil
}

func (d *decoder) utf16(b []byte) (rune, int) {
	unit := func(b []byte) rune {
		if d.enc == encUTF16LE {
			return rune(b[0]) | rune(b[1])<<8
		}
		return rune(b[0])<<8 | rune(b[1])
	}
	if len(b) < 2 {
		return utf8.RuneError, len(b) // a lone final byte
	}
	u := unit(b)
	switch {
	case u < 0xD800 || u > 0xDFFF:
		return u, 2
	case u <= 0xDBFF && len(b) >= 4:
		if v := unit(b[2:]); v >= 0xDC00 && v <= 0xDFFF {
			return 0x10000 + (u-0xD800)<<10 + (v - 0xDC00), 4
		}
	}
	return utf8.RuneError, 2 // an unpaired surrogate
}

func (d *decoder) gb18030(b []byte, tmp []byte) (rune, int) {
	c := b[0]
	if c < 0x80 {
		return rune(c), 1
	}
	switch gbSeqLen(b) {
	case 2:
		return d.gb2[(int(c)-0x81)*191+int(b[1])-0x40], 2
	case 4:
		d.gb.Reset()
		n, _, err := d.gb.Transform(tmp, b[:4], true)
		if err == nil {
			if r, size := utf8.DecodeRune(tmp[:n]); size == n && n > 0 {
				return r, 4
			}
		}
		return utf8.RuneError, 4
	}
	return utf8.RuneError, 1 // malformed, or cut at the end of the input
}

// encodedText scans a UTF-16 or GB18030 stream like text does UTF-8: in
// overlapping chunks of decoded text, each carrying the map from its bytes
// back to the original ones.
func (s *scanner) encodedText(ctx context.Context, r io.Reader, name, enc string) {
	dec := newDecoder(r, enc)
	var base int64 // original offset of text[0]
	carry := 0
	bp := s.pool.Get().(*[]byte)
	buf := *bp
	orig := make([]int32, len(buf)+1)
	first := true
	for {
		before := dec.pos
		n, done, err := dec.decode(buf[carry:], orig[carry:], base)
		total := carry + n
		if err != nil {
			s.pool.Put(bp)
			s.noteErr(ctx, name, fmt.Errorf("read at byte %d: %w", dec.pos, err))
			return
		}
		u := &unit{path: name, base: base, text: buf[:total], orig: orig[:total+1], pooled: true, bytes: dec.pos - before, encoding: enc}
		if !first {
			u.own0 = margin
		}
		u.own1 = total
		if !done {
			u.own1 = total - margin
		} else {
			u.files = 1
		}
		var next []byte
		var nextOrig []int32
		if !done {
			np := s.pool.Get().(*[]byte)
			bp, next = np, *np
			nextOrig = make([]int32, len(next)+1)
			copy(next, buf[total-overlap:total])
			shift := orig[total-overlap]
			for i := range overlap + 1 {
				nextOrig[i] = orig[total-overlap+i] - shift
			}
			carry = overlap
			base += int64(shift)
		}
		if err := s.submit(ctx, u); err != nil {
			return
		}
		if done {
			return
		}
		buf, orig = next, nextOrig
		first = false
	}
}
