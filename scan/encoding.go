package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
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
	encBig5    = "big5"
)

// textEncoding decides how a text stream is encoded from its first bytes
// (head; complete when head is the whole stream). A UTF-16 byte order
// mark decides first; then valid UTF-8 stays UTF-8; then UTF-16 without
// a byte order mark (utf16NoBOM), then GB18030 or Big5 (doubleByte).
// Anything else ("") is scanned as bytes. text re-decides when a later
// chunk of a UTF-8 stream is not UTF-8 (switchEncoding).
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
	if enc := utf16NoBOM(head); enc != "" {
		return enc
	}
	return doubleByte(head)
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

// firstInvalidUTF8 is the index of the first byte of b that does not
// start or continue a valid UTF-8 character (len(b) when b is valid, or
// ends with a cut character). Up to three continuation bytes at the
// start are the end of a character cut by the chunk boundary.
func firstInvalidUTF8(b []byte) int {
	i := 0
	for i < len(b) && i < utf8.UTFMax-1 && b[i]&0xC0 == 0x80 {
		i++ // b starts inside a character
	}
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			if !utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
		i += n
	}
	return len(b)
}

// utf16NoBOM recognizes UTF-16 without a byte order mark, as some Windows
// tools and database exports write it, by what its ASCII-range
// characters look like: every other byte zero. Read in the byte order
// that wins, every unit must be text — no U+0000, no control character
// other than tab, newline, carriage return and form feed, no C1
// control, no unpaired surrogate, no U+FFFE/U+FFFF — and at least a
// quarter of the units, and at least 4, must be ASCII (digits,
// punctuation, newlines: exports have plenty). A final odd byte and a surrogate pair cut at the end of
// the head are allowed. UTF-16 made only of CJK characters has no zero
// bytes to go by and is not recognized.
func utf16NoBOM(head []byte) string {
	le, leOK := utf16ASCIIUnits(head, true)
	be, beOK := utf16ASCIIUnits(head, false)
	units := len(head) / 2
	switch {
	case leOK && le >= be && le >= 4 && le*4 >= units:
		return encUTF16LE
	case beOK && be > le && be >= 4 && be*4 >= units:
		return encUTF16BE
	}
	return ""
}

// utf16ASCIIUnits reads b as UTF-16 in one byte order and counts its
// ASCII units; ok is false when some unit is not text.
func utf16ASCIIUnits(b []byte, le bool) (ascii int, ok bool) {
	n := len(b) &^ 1
	unit := func(i int) uint16 {
		if le {
			return uint16(b[i]) | uint16(b[i+1])<<8
		}
		return uint16(b[i])<<8 | uint16(b[i+1])
	}
	for i := 0; i < n; i += 2 {
		u := unit(i)
		switch {
		case u < 0x20:
			if u != '\t' && u != '\n' && u != '\r' && u != '\f' {
				return 0, false
			}
			ascii++
		case u < 0x7F:
			ascii++
		case u < 0xA0: // DEL and C1 controls
			return 0, false
		case u >= 0xD800 && u <= 0xDBFF:
			if i+2 >= n {
				return ascii, true // a pair cut at the end of the head
			}
			if v := unit(i + 2); v < 0xDC00 || v > 0xDFFF {
				return 0, false
			}
			i += 2
		case u >= 0xDC00 && u <= 0xDFFF, u == 0xFFFE, u == 0xFFFF:
			return 0, false
		}
	}
	return ascii, true
}

// doubleByte decides between GB18030 and Big5 for text that is not
// UTF-8. Both are double-byte encodings with lead bytes 0x81–0xFE, and
// most Big5 text is also well-formed GBK, so structure alone does not
// decide. Each candidate must be well-formed (a byte that cannot start
// or end a character in it rules it out; GB18030's four-byte codes rule
// Big5 out) and have ≥ 80 % of its two-byte characters in its everyday
// range: for GB18030, GB2312 (lead 0xA1–0xF7, trail 0xA1–0xFE); for
// Big5, its symbols and level-1 common characters (lead 0xA1–0xC6).
// Measured on 1 MiB of pii/corpus prose (WritePlain, seed 5): in GBK it
// hits a code Big5 does not assign after 10,981 pairs (53 % of them
// Big5 level 1 until then), which rules Big5 out; its characters that
// Big5 has, encoded in Big5, are 86 % Big5 symbols and level 1 but only
// 42 % in the GB2312 range when read as GB. When both pass, the
// higher share of common characters — GB2312 symbols and level 1 (lead
// 0xA1–0xA9, 0xB0–0xD7) against Big5 symbols and level 1 — wins, GB18030
// on a tie. Failure modes: a short Big5 sample whose characters all have
// trail bytes ≥ 0xA1 and lead bytes ≤ 0xC6 is read as GB18030; Big5 text
// heavy in level-2 characters or HKSCS codes, and traditional characters
// encoded in GBK (leads 0x81–0xA0), are not decoded.
func doubleByte(b []byte) string {
	gb := scoreGB(b)
	b5 := scoreBig5(b)
	gbOK := gb.ok && gb.chars > 0 && gb.inRange*10 >= gb.two*8
	b5OK := b5.ok && b5.chars > 0 && b5.common*10 >= b5.two*8
	switch {
	case gbOK && b5OK:
		// gb.common/gb.two against b5.common/b5.two, in integers.
		if b5.common*gb.two > gb.common*b5.two {
			return encBig5
		}
		return encGB18030
	case gbOK:
		return encGB18030
	case b5OK:
		return encBig5
	}
	return ""
}

// dbScore counts the characters of a double-byte candidate reading.
type dbScore struct {
	ok      bool // well-formed (a character cut at the end is allowed)
	chars   int  // multi-byte characters
	two     int  // two-byte characters
	inRange int  // two-byte characters in the everyday range (GB: GB2312)
	common  int  // two-byte symbols and level-1 characters
}

func scoreGB(b []byte) dbScore {
	var s dbScore
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			i++
			continue
		}
		if c == 0x80 || c == 0xFF {
			return s
		}
		n := gbSeqLen(b[i:])
		switch n {
		case 0: // cut at the end of the sample
			s.ok = true
			return s
		case 2:
			s.two++
			if d := b[i+1]; c >= 0xA1 && c <= 0xF7 && d >= 0xA1 {
				s.inRange++
				if c <= 0xA9 || c >= 0xB0 && c <= 0xD7 {
					s.common++
				}
			}
		case 4:
		default:
			return s
		}
		s.chars++
		i += n
	}
	s.ok = true
	return s
}

func scoreBig5(b []byte) dbScore {
	var s dbScore
	t := big5TwoByte()
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			i++
			continue
		}
		switch big5SeqLen(b[i:]) {
		case 0:
			s.ok = true
			return s
		case 1:
			return s
		}
		if t[(int(c)-0x81)*191+int(b[i+1])-0x40] == utf8.RuneError {
			return s // a well-formed but unassigned code
		}
		s.two++
		s.chars++
		if c >= 0xA1 && c <= 0xC6 {
			s.common++
		}
		i += 2
	}
	s.ok = true
	return s
}

// big5SeqLen is the length of the Big5 character at the start of b (whose
// first byte is ≥ 0x80): 2 when well-formed, 0 when b ends inside it, 1
// when it is malformed.
func big5SeqLen(b []byte) int {
	c := b[0]
	if c < 0x81 || c > 0xFE {
		return 1
	}
	if len(b) < 2 {
		return 0
	}
	if d := b[1]; d >= 0x40 && d <= 0x7E || d >= 0xA1 && d <= 0xFE {
		return 2
	}
	return 1
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

// gbTwoByte and big5TwoByte map every two-byte code (lead 0x81–0xFE,
// trail 0x40–0xFE) to its character, built once from golang.org/x/text's
// decoders (a table lookup per character instead of a Transform call).
// U+FFFD marks a malformed or unassigned code. The four Big5 (HKSCS)
// codes that decode to a letter and a combining mark keep the letter.
var (
	gbTwoByte   = sync.OnceValue(func() []rune { return twoByteTable(simplifiedchinese.GB18030) })
	big5TwoByte = sync.OnceValue(func() []rune { return twoByteTable(traditionalchinese.Big5) })
)

func twoByteTable(e encoding.Encoding) []rune {
	t := make([]rune, 126*191)
	dec := e.NewDecoder()
	var out [16]byte
	for c := 0x81; c <= 0xFE; c++ {
		for d := 0x40; d <= 0xFE; d++ {
			r := utf8.RuneError
			if d != 0x7F {
				dec.Reset()
				n, _, err := dec.Transform(out[:], []byte{byte(c), byte(d)}, true)
				if err == nil && n > 0 {
					// A malformed pair decodes to U+FFFD plus the trail
					// byte when it is ASCII: only a whole character counts.
					if x, size := utf8.DecodeRune(out[:n]); x >= 0x80 && (size == n || e == traditionalchinese.Big5 && n-size <= 3 && out[size] >= 0x80) {
						r = x
					}
				}
			}
			t[(c-0x81)*191+d-0x40] = r
		}
	}
	return t
}

// decoder turns a UTF-16, GB18030 or Big5 stream into UTF-8. Malformed input
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
	two  []rune // gbTwoByte or big5TwoByte
	fold []rune // big5Folded: what the detectors see of Big5 text
	bom  bool   // a UTF-16 byte order mark may still be at raw[rs]
}

// newDecoder decodes r, whose first byte is at offset pos of the original
// stream.
func newDecoder(r io.Reader, enc string, pos int64) *decoder {
	d := &decoder{r: r, enc: enc, raw: make([]byte, 64<<10), pos: pos}
	switch enc {
	case encGB18030:
		d.gb = simplifiedchinese.GB18030.NewDecoder()
		d.two = gbTwoByte()
	case encBig5:
		d.two = big5TwoByte()
		d.fold = big5Folded()
	default:
		// The byte order mark is not text; offsets still count it.
		d.bom = pos == 0
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
// Big5 text goes to dst folded to simplified characters and, as written,
// to shown (as long as dst); shown is nil for the other encodings.
func (d *decoder) decode(dst, shown []byte, orig []int32, base int64) (n int, done bool, err error) {
	var tmp [8]byte
	for len(dst)-n >= utf8.UTFMax {
		d.more(4)
		if d.bom {
			d.bom = false
			if b := d.raw[d.rs:d.re]; len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE && d.enc == encUTF16LE || b[0] == 0xFE && b[1] == 0xFF && d.enc == encUTF16BE) {
				d.rs += 2
				d.pos += 2
			}
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
		case encBig5:
			r, size = d.big5(avail)
		default:
			r, size = d.gb18030(avail, tmp[:])
		}
		at := int32(d.pos - base)
		if r < utf8.RuneSelf {
			dst[n] = byte(r)
			if shown != nil {
				shown[n] = byte(r)
			}
			orig[n] = at
			n++
		} else {
			if shown != nil {
				utf8.EncodeRune(shown[n:], r)
				if size == 2 && r != utf8.RuneError {
					r = d.fold[(int(avail[0])-0x81)*191+int(avail[1])-0x40]
				}
			}
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
		return d.two[(int(c)-0x81)*191+int(b[1])-0x40], 2
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

func (d *decoder) big5(b []byte) (rune, int) {
	c := b[0]
	if c < 0x80 {
		return rune(c), 1
	}
	if big5SeqLen(b) == 2 {
		if r := d.two[(int(c)-0x81)*191+int(b[1])-0x40]; r != utf8.RuneError || b[1] >= 0x80 {
			return r, 2
		}
	}
	// Malformed, cut at the end, or unassigned with an ASCII trail byte,
	// which is then read as itself (as the WHATWG decoder does).
	return utf8.RuneError, 1
}

// encodedText scans a UTF-16, GB18030 or Big5 stream like text does
// UTF-8: in overlapping chunks of decoded text, each carrying the map from
// its bytes back to the original ones. r's first byte is at offset start
// of the original stream (0, or where text switched encodings); findings
// before offset own belong to the text before, and bytes before counted
// are already in the summary.
func (s *scanner) encodedText(ctx context.Context, r io.Reader, name, enc string, start, own, counted int64, countFile bool) {
	dec := newDecoder(r, enc, start)
	base := start // original offset of text[0]
	carry := 0
	bp := s.pool.Get().(*[]byte)
	buf := *bp
	orig := make([]int32, len(buf)+1)
	var shown []byte // Big5: the text as written (buf is folded)
	if enc == encBig5 {
		shown = make([]byte, len(buf))
	}
	first := true // the own rule below stands for the margin then
	for {
		before := max(dec.pos, counted)
		var sh []byte
		if shown != nil {
			sh = shown[carry:]
		}
		n, done, err := dec.decode(buf[carry:], sh, orig[carry:], base)
		total := carry + n
		if err != nil {
			s.pool.Put(bp)
			s.noteErr(ctx, name, fmt.Errorf("read at byte %d: %w", dec.pos, err))
			return
		}
		u := &unit{path: name, base: base, text: buf[:total], orig: orig[:total+1], pooled: true, bytes: max(dec.pos-before, 0), encoding: enc}
		if shown != nil {
			u.shown = shown[:total]
		}
		if !first {
			u.own0 = margin
		}
		u.own1 = total
		if !done {
			u.own1 = total - margin
		} else if countFile {
			u.files = 1
		}
		if own > base {
			// Findings before own were the UTF-8 text's.
			k := sort.Search(total, func(i int) bool { return base+int64(orig[i]) >= own })
			u.own0 = max(u.own0, k)
			u.own1 = max(u.own1, u.own0)
		}
		var next, nextShown []byte
		var nextOrig []int32
		if !done {
			np := s.pool.Get().(*[]byte)
			bp, next = np, *np
			nextOrig = make([]int32, len(next)+1)
			copy(next, buf[total-overlap:total])
			if shown != nil {
				nextShown = make([]byte, len(next))
				copy(nextShown, shown[total-overlap:total])
			}
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
		buf, orig, shown = next, nextOrig, nextShown
		first = false
	}
}

// switchEncoding looks at a chunk of a stream read as UTF-8 so far that
// is not valid UTF-8 (text[:own0] was valid in the chunk before). When
// the text from its first invalid byte on reads as GB18030 or Big5
// (doubleByte), the stream switches to that encoding at the start p of
// the line holding that byte (not before own0: earlier findings are
// reported already); decoding starts at from ≤ p, a character boundary
// in the new encoding, so that the detectors see context before p.
// enc is "" when the chunk stays bytes (Latin-1, a damaged file).
func switchEncoding(text []byte, own0 int) (p, from int, enc string) {
	i := firstInvalidUTF8(text)
	if i >= len(text) {
		return 0, 0, ""
	}
	p = own0
	if nl := bytes.LastIndexByte(text[:i], '\n'); nl+1 > p {
		p = nl + 1
	}
	// A byte below 0x30 is neither a GB18030 nor a Big5 trail byte, so a
	// character starts after it; so it does after two ASCII bytes in a
	// row (an ASCII byte can be a trail byte, but not a lead byte).
	from = 0
	for k := p; k > 0; k-- {
		if text[k-1] < 0x30 || k >= 2 && text[k-1] < 0x80 && text[k-2] < 0x80 {
			from = k
			break
		}
	}
	// Decide on the rest of the chunk from the line start: up to a chunk
	// of text, and the UTF-8 before the line is left out.
	if enc = doubleByte(text[boundaryBefore(text, i, p):]); enc == "" {
		return 0, 0, ""
	}
	return p, from, enc
}

// boundaryBefore is the last character boundary (as in switchEncoding) at
// or before i and not before lo, or lo.
func boundaryBefore(text []byte, i, lo int) int {
	for k := i; k > lo; k-- {
		if text[k-1] < 0x30 || k >= 2 && text[k-1] < 0x80 && text[k-2] < 0x80 {
			return k
		}
	}
	return lo
}

// notUTF8Hint is a quick test, at several bytes a nanosecond, that text
// is not UTF-8: it looks at every pair of neighbouring bytes for a lead
// byte (≥ 0xC0) followed by anything but a continuation byte
// (0x80–0xBF), or a continuation byte right after an ASCII byte. Both
// are errors in UTF-8 and both come up within a few characters of GBK or
// Big5 text, whose byte pairs take no notice of UTF-8's rules. False
// means no such pair: text may still be invalid UTF-8 (a sequence cut
// short before a continuation byte, an overlong form), which text then
// reads as bytes, as it did before. A lead byte at the very end is
// allowed: the character continues in the next chunk. text calls it on
// every chunk of plain text instead of utf8.Valid, which reads CJK UTF-8
// at about 1.9 GB/s on one core (BenchmarkNotUTF8Hint).
func notUTF8Hint(b []byte) bool {
	const hi = 0x8080808080808080
	// Bit 7 of each byte of c is set for a continuation byte, of pl and
	// pc for a lead byte and a continuation byte before it; bad where the
	// byte before is not a continuation byte and is a lead byte exactly
	// when this one is not a continuation byte. Byte j+1 of a
	// little-endian word is 8 bits above byte j; the byte before b[0]
	// counts as a continuation byte (b may start inside a character).
	var bad uint64
	pw := uint64(0x80) << 56
	i := 0
	for i+16 <= len(b) {
		end := min(i+1024, len(b)&^15)
		for ; i < end; i += 16 {
			// Two words a round: independent work the CPU overlaps.
			w0 := binary.LittleEndian.Uint64(b[i : i+8 : i+8])
			w1 := binary.LittleEndian.Uint64(b[i+8 : i+16 : i+16])
			p0, p1 := w0<<8|pw>>56, w1<<8|w0>>56
			c0, c1 := w0&^(w0<<1), w1&^(w1<<1)
			pl0, pl1 := p0&(p0<<1), p1&(p1<<1)
			pc0, pc1 := p0&^(p0<<1), p1&^(p1<<1)
			bad |= (^pc0&(pl0^c0) | ^pc1&(pl1^c1)) & hi
			pw = w1
		}
		if bad != 0 {
			return true
		}
	}
	prev := byte(pw >> 56)
	for ; i < len(b); i++ {
		c := b[i]
		isCont := c&0xC0 == 0x80
		if prev < 0x80 && isCont || prev >= 0xC0 && !isCont {
			return true
		}
		prev = c
	}
	return false
}

// writtenAsUTF8 reports whether a chunk of text that raised no
// notUTF8Hint, ending at least 1 MiB into its stream, shows that a UTF-8
// writer made the stream: at least one byte in 64 starts a multi-byte
// character. text stops watching such a stream for a change of encoding:
// the hint costs about 5 % of the CPU time of a scan of Chinese prose, and
// a file that holds a megabyte of UTF-8 Chinese and then turns to GBK is
// rarer than one that starts with ASCII (headers, log lines, English)
// and does.
func writtenAsUTF8(text []byte, base int64) bool {
	if base+int64(len(text)) < 1<<20 {
		return false
	}
	const hi = 0x8080808080808080
	leads := 0
	i := 0
	for ; i+8 <= len(text); i += 8 {
		w := binary.LittleEndian.Uint64(text[i : i+8 : i+8])
		leads += bits.OnesCount64(w & (w << 1) & hi)
	}
	for ; i < len(text); i++ {
		if text[i] >= 0xC0 {
			leads++
		}
	}
	return leads*64 >= len(text)
}
