package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/text/encoding/charmap"
)

// PDF text. pdfcpu parses the file (cross-reference tables and streams,
// object streams, filters, the standard security handler with an empty
// user password) and gives each page's decoded content stream and
// resources; this file interprets the text operators and maps character
// codes to Unicode itself, since pdfcpu edits PDFs but does not extract
// text. What is read and what is not is listed in docs/scan.md.

// pdfConfig returns pdfcpu's default configuration without the config
// file pdfcpu otherwise creates under the user's config directory on
// first use: a scanner must not write to the home directory it scans.
var pdfConfig = sync.OnceValue(func() *model.Configuration {
	model.ConfigPath = "disable"
	return model.NewDefaultConfiguration()
})

// pdfLimits bound the work on one file, so that a hostile PDF (forms
// that draw each other, huge arrays) costs a bounded amount.
const (
	pdfMaxFormDepth = 4
	pdfMaxOperands  = 64
	pdfMaxArray     = 1 << 14
)

// pdf scans the text of a PDF page by page. Findings carry "page N" in
// Location and byte offsets in that page's extracted text.
func (s *scanner) pdf(ctx context.Context, r io.Reader, at *fileAt, name string) {
	var rs io.ReadSeeker
	if at != nil {
		rs = io.NewSectionReader(at.f, 0, at.size)
	} else {
		data, err := s.buffer(r)
		if err != nil {
			s.noteSkip(ctx, name, "pdf: "+err.Error())
			return
		}
		rs = bytes.NewReader(data)
	}
	pages, unread, err := pdfText(rs, s.opt.MaxBuffered)
	if err != nil && len(pages) == 0 {
		s.noteErr(ctx, name, err)
		return
	}
	s.record(ctx, &unit{files: 1})
	if err != nil {
		defer s.noteErr(ctx, name, err)
	}
	for i, text := range pages {
		if ctx.Err() != nil {
			return
		}
		if len(text) > 0 {
			s.text(ctx, bytes.NewReader(text), name, "page "+strconv.Itoa(i+1), false)
		}
	}
	if len(unread) > 0 {
		s.noteSkip(ctx, name, "pdf: text in fonts without a Unicode mapping not read ("+strings.Join(unread, ", ")+")")
	}
}

// pdfText returns the text of each page, and the fonts whose text could
// not be mapped to Unicode. A malformed file is an error, never a panic;
// with an error, pages holds the pages read before it.
func pdfText(rs io.ReadSeeker, limit int64) (pages [][]byte, unread []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			pages, unread, err = nil, nil, fmt.Errorf("pdf: malformed: %v", r)
		}
	}()
	// pdfcpu.Read, not api.ReadContext: the api package pulls in pdfcpu's
	// form filling and with it go-runewidth, whose package initialization
	// (27 ms) every custos command would pay. The panic recovery api adds
	// is the deferred recover above.
	pc, err := pdfcpu.Read(rs, pdfConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("pdf: %w", err)
	}
	if err := pc.EnsurePageCount(); err != nil {
		return nil, nil, fmt.Errorf("pdf: page tree: %w", err)
	}
	x := &pdfExtractor{xt: pc.XRefTable, fonts: map[string]*pdfFont{}, unread: map[string]bool{}, limit: limit}
	var total int64
	for n := 1; n <= pc.PageCount; n++ {
		// A broken page ends the reading; the pages before it are
		// still scanned.
		d, _, inh, err := pc.PageDict(n, false)
		if err != nil {
			return pages, nil, fmt.Errorf("pdf: page %d: %w", n, err)
		}
		content, err := pc.PageContent(d, n)
		if err != nil && err != model.ErrNoContent {
			return pages, nil, fmt.Errorf("pdf: page %d: content: %w", n, err)
		}
		var res types.Dict
		if inh != nil {
			res = inh.Resources
		}
		x.out = x.out[:0]
		x.run(content, res, 0)
		total += int64(len(x.out))
		if total > limit {
			return pages, nil, fmt.Errorf("pdf: text larger than %d MiB", limit>>20)
		}
		pages = append(pages, bytes.Clone(x.out))
	}
	for f := range x.unread {
		unread = append(unread, f)
	}
	slices.Sort(unread)
	return pages, unread, nil
}

// pdfExtractor interprets content streams of one document.
type pdfExtractor struct {
	xt     *model.XRefTable
	fonts  map[string]*pdfFont // by object number, or resource name for direct dicts
	unread map[string]bool     // base fonts whose codes have no Unicode mapping
	out    []byte
	limit  int64
	ops    []pdfOperand
}

type pdfOperand struct {
	kind byte // 'n' number, 's' string, '/' name, 'a' array
	num  float64
	str  []byte
	arr  []pdfOperand
}

// run interprets one content stream with its resources.
func (x *pdfExtractor) run(content []byte, res types.Dict, depth int) {
	lx := pdfLexer{b: content}
	var font *pdfFont
	var lastY float64
	lineStart := true // nothing shown on the current line yet
	newline := func() {
		if !lineStart {
			x.out = append(x.out, '\n')
			lineStart = true
		}
	}
	space := func() {
		if !lineStart && len(x.out) > 0 && x.out[len(x.out)-1] != ' ' {
			x.out = append(x.out, ' ')
		}
	}
	show := func(s []byte) {
		if font == nil || len(s) == 0 || int64(len(x.out)) > x.limit {
			return
		}
		before := len(x.out)
		x.out = font.decode(x.out, s)
		if len(x.out) > before {
			lineStart = false
		}
	}
	x.ops = x.ops[:0]
	for {
		tok := lx.operand()
		if tok.kind == 0 {
			return
		}
		if tok.kind != 'o' {
			if len(x.ops) >= pdfMaxOperands {
				x.ops = x.ops[:0] // not a real operator's operands
			}
			x.ops = append(x.ops, tok)
			continue
		}
		ops := x.ops
		num := func(i int) float64 {
			if i < len(ops) && ops[i].kind == 'n' {
				return ops[i].num
			}
			return 0
		}
		switch string(tok.str) {
		case "BI": // inline image: skip its data
			lx.skipInlineImage()
		case "BT":
			lastY = 0
		case "ET":
			newline()
		case "Tf":
			if len(ops) >= 2 && ops[0].kind == '/' {
				font = x.font(res, string(ops[0].str))
			}
		case "Td", "TD":
			if len(ops) >= 2 {
				if ops[1].num != 0 {
					newline()
				} else {
					space()
				}
			}
		case "T*":
			newline()
		case "Tm":
			if len(ops) >= 6 {
				if y := num(5); y != lastY {
					newline()
					lastY = y
				} else {
					space()
				}
			}
		case "Tj":
			if len(ops) >= 1 && ops[len(ops)-1].kind == 's' {
				show(ops[len(ops)-1].str)
			}
		case "'", "\"":
			newline()
			if len(ops) >= 1 && ops[len(ops)-1].kind == 's' {
				show(ops[len(ops)-1].str)
			}
		case "TJ":
			if len(ops) >= 1 && ops[len(ops)-1].kind == 'a' {
				for _, e := range ops[len(ops)-1].arr {
					switch e.kind {
					case 's':
						show(e.str)
					case 'n':
						// A gap wider than a third of an em between
						// pieces is a word space (kerning is smaller).
						if e.num < -300 {
							space()
						}
					}
				}
			}
		case "Do":
			if len(ops) >= 1 && ops[0].kind == '/' && depth < pdfMaxFormDepth {
				newline()
				x.form(res, string(ops[0].str), depth)
				newline()
				x.ops = x.ops[:0]
			}
		}
		x.ops = x.ops[:0]
	}
}

// form runs a Form XObject's content stream (text drawn inside forms:
// letterheads, stamps, repeated table rows in some generators).
func (x *pdfExtractor) form(res types.Dict, name string, depth int) {
	xobjs := x.dict(res, "XObject")
	if xobjs == nil {
		return
	}
	o, ok := xobjs[name]
	if !ok {
		return
	}
	sd, _, err := x.xt.DereferenceStreamDict(o)
	if err != nil || sd == nil {
		return
	}
	if st := sd.Dict.NameEntry("Subtype"); st == nil || *st != "Form" {
		return
	}
	if err := sd.Decode(); err != nil {
		return
	}
	sub := x.dict(sd.Dict, "Resources")
	if sub == nil {
		sub = res
	}
	saved := x.ops
	x.ops = nil
	x.run(sd.Content, sub, depth+1)
	x.ops = saved[:0]
}

// dict returns d[key] dereferenced as a dictionary, or nil.
func (x *pdfExtractor) dict(d types.Dict, key string) types.Dict {
	if d == nil {
		return nil
	}
	o, ok := d[key]
	if !ok {
		return nil
	}
	dd, err := x.xt.DereferenceDict(o)
	if err != nil {
		return nil
	}
	return dd
}

// font returns the decoder of the font named name in res, built once per
// font object.
func (x *pdfExtractor) font(res types.Dict, name string) *pdfFont {
	fonts := x.dict(res, "Font")
	if fonts == nil {
		return nil
	}
	o, ok := fonts[name]
	if !ok {
		return nil
	}
	key := "/" + name
	if ir, ok := o.(types.IndirectRef); ok {
		key = ir.String()
	}
	if f, ok := x.fonts[key]; ok {
		return f
	}
	fd, err := x.xt.DereferenceDict(o)
	if err != nil || fd == nil {
		x.fonts[key] = nil
		return nil
	}
	f := x.newFont(fd)
	if f.unreadable {
		base := "unnamed"
		if b := fd.NameEntry("BaseFont"); b != nil {
			base = *b
		}
		x.unread[base] = true
	}
	x.fonts[key] = f
	return f
}

// pdfFont maps the character codes of one font to Unicode.
type pdfFont struct {
	codeLen    []pdfRange        // codespace ranges (ToUnicode or predefined CMaps)
	toUnicode  map[uint32]string // code → text, from the ToUnicode CMap
	twoByte    bool              // Type0 without codespace: 2-byte codes
	simple     *[256]rune        // simple fonts without ToUnicode
	cmapKind   string            // "ucs2", "gb" for predefined Chinese CMaps
	unreadable bool              // codes that cannot be mapped (Identity-H without ToUnicode)
}

type pdfRange struct {
	n      int
	lo, hi uint32
}

func (x *pdfExtractor) newFont(fd types.Dict) *pdfFont {
	f := &pdfFont{}
	subtype := ""
	if st := fd.NameEntry("Subtype"); st != nil {
		subtype = *st
	}
	if o, ok := fd["ToUnicode"]; ok {
		if sd, _, err := x.xt.DereferenceStreamDict(o); err == nil && sd != nil && sd.Decode() == nil {
			f.parseCMap(sd.Content)
		}
	}
	enc := ""
	if e := fd.NameEntry("Encoding"); e != nil {
		enc = *e
	}
	if subtype == "Type0" {
		f.twoByte = true
		switch {
		case strings.HasPrefix(enc, "UniGB-UCS2"), strings.HasPrefix(enc, "UniGB-UTF16"),
			strings.HasPrefix(enc, "UniCNS-UCS2"), strings.HasPrefix(enc, "UniCNS-UTF16"),
			strings.HasPrefix(enc, "UniJIS-UCS2"), strings.HasPrefix(enc, "UniJIS-UTF16"),
			strings.HasPrefix(enc, "UniKS-UCS2"), strings.HasPrefix(enc, "UniKS-UTF16"):
			f.cmapKind = "ucs2"
		case strings.HasPrefix(enc, "GB-EUC"), strings.HasPrefix(enc, "GBpc-EUC"), strings.HasPrefix(enc, "GBK-EUC"),
			strings.HasPrefix(enc, "GBKp-EUC"), strings.HasPrefix(enc, "GBK2K"):
			f.cmapKind = "gb"
		}
		if f.toUnicode == nil && f.cmapKind == "" {
			f.unreadable = true
		}
		return f
	}
	if f.toUnicode != nil {
		return f
	}
	// A simple font: one byte per code, through its encoding.
	var t [256]rune
	base := charmap.Windows1252
	if enc == "MacRomanEncoding" {
		base = charmap.Macintosh
	}
	for i := range t {
		t[i] = base.DecodeByte(byte(i))
	}
	if ed := x.dict(fd, "Encoding"); ed != nil {
		if b := ed.NameEntry("BaseEncoding"); b != nil && *b == "MacRomanEncoding" {
			for i := range t {
				t[i] = charmap.Macintosh.DecodeByte(byte(i))
			}
		}
		if diffs, err := x.xt.DereferenceArray(ed["Differences"]); err == nil {
			code := 0
			for _, o := range diffs {
				switch v := o.(type) {
				case types.Integer:
					code = int(v)
				case types.Name:
					if code >= 0 && code < 256 {
						if r, ok := glyphRune(string(v)); ok {
							t[code] = r
						} else {
							t[code] = utf8.RuneError
						}
					}
					code++
				}
			}
		}
	}
	f.simple = &t
	return f
}

// glyphRune maps the glyph names that Differences arrays use for the
// characters identifiers are made of; other glyphs are unknown.
func glyphRune(name string) (rune, bool) {
	if len(name) == 1 && (name[0] >= 'A' && name[0] <= 'Z' || name[0] >= 'a' && name[0] <= 'z') {
		return rune(name[0]), true
	}
	if strings.HasPrefix(name, "uni") && len(name) == 7 {
		if v, err := strconv.ParseUint(name[3:], 16, 32); err == nil {
			return rune(v), true
		}
	}
	if strings.HasPrefix(name, "u") && (len(name) == 5 || len(name) == 6 || len(name) == 7) {
		if v, err := strconv.ParseUint(name[1:], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
			return rune(v), true
		}
	}
	if r, ok := glyphNames[name]; ok {
		return r, true
	}
	return 0, false
}

var glyphNames = map[string]rune{
	"space": ' ', "zero": '0', "one": '1', "two": '2', "three": '3', "four": '4', "five": '5', "six": '6',
	"seven": '7', "eight": '8', "nine": '9', "at": '@', "period": '.', "comma": ',', "hyphen": '-',
	"minus": '-', "colon": ':', "semicolon": ';', "parenleft": '(', "parenright": ')', "plus": '+',
	"underscore": '_', "slash": '/', "numbersign": '#', "percent": '%', "ampersand": '&', "asterisk": '*',
	"equal": '=', "bracketleft": '[', "bracketright": ']', "quotesingle": '\'', "quotedbl": '"',
}

// decode appends the text of the string s shown with f.
func (f *pdfFont) decode(dst, s []byte) []byte {
	if f.simple != nil {
		for _, c := range s {
			if r := f.simple[c]; r != utf8.RuneError && r >= 0x20 {
				dst = utf8.AppendRune(dst, r)
			}
		}
		return dst
	}
	for i := 0; i < len(s); {
		n := f.codeLength(s[i:])
		var code uint32
		for _, c := range s[i : i+n] {
			code = code<<8 | uint32(c)
		}
		if t, ok := f.toUnicode[code]; ok {
			dst = append(dst, t...)
		} else {
			switch f.cmapKind {
			case "ucs2":
				if n == 2 {
					if code >= 0xD800 && code <= 0xDBFF && i+4 <= len(s) {
						lo := uint32(s[i+2])<<8 | uint32(s[i+3])
						if r := utf16.DecodeRune(rune(code), rune(lo)); r != utf8.RuneError {
							dst = utf8.AppendRune(dst, r)
							i += 4
							continue
						}
					}
					if r := rune(code); r >= 0x20 && !(r >= 0xD800 && r <= 0xDFFF) {
						dst = utf8.AppendRune(dst, r)
					}
				}
			case "gb":
				if n == 1 {
					dst = append(dst, byte(code))
				} else if n == 2 {
					c, d := int(code>>8), int(code&0xFF)
					if r := gbTwoByte()[(c-0x81)*191+d-0x40]; r != utf8.RuneError {
						dst = utf8.AppendRune(dst, r)
					}
				}
			}
		}
		i += n
	}
	return dst
}

// codeLength is the byte length of the code at the start of s.
func (f *pdfFont) codeLength(s []byte) int {
	if f.cmapKind == "gb" && f.codeLen == nil {
		if s[0] < 0x80 || len(s) < 2 || s[0] == 0x80 || s[0] == 0xFF || gbSeqLen(s) != 2 {
			return 1
		}
		return 2
	}
	if f.cmapKind == "ucs2" && f.codeLen == nil {
		return min(2, len(s))
	}
	for n := 1; n <= 4 && n <= len(s); n++ {
		var code uint32
		for _, c := range s[:n] {
			code = code<<8 | uint32(c)
		}
		for _, r := range f.codeLen {
			if r.n == n && code >= r.lo && code <= r.hi {
				return n
			}
		}
	}
	if f.codeLen == nil && !f.twoByte {
		return 1
	}
	return min(2, len(s))
}

// parseCMap reads the codespace ranges, bfchar and bfrange entries of a
// ToUnicode CMap. Destinations are UTF-16BE.
func (f *pdfFont) parseCMap(b []byte) {
	f.toUnicode = map[uint32]string{}
	lx := pdfLexer{b: b}
	var ops []pdfOperand
	mode := ""
	for {
		tok := lx.operand()
		if tok.kind == 0 {
			return
		}
		if tok.kind != 'o' {
			ops = append(ops, tok)
			if mode == "" && len(ops) > pdfMaxOperands {
				ops = ops[:0]
			}
			continue
		}
		switch op := string(tok.str); op {
		case "begincodespacerange", "beginbfchar", "beginbfrange":
			mode = op[5:]
			ops = ops[:0]
		case "endcodespacerange":
			for i := 0; i+1 < len(ops); i += 2 {
				lo, hi := ops[i], ops[i+1]
				if lo.kind == 's' && hi.kind == 's' && len(lo.str) == len(hi.str) && len(lo.str) >= 1 && len(lo.str) <= 4 {
					f.codeLen = append(f.codeLen, pdfRange{n: len(lo.str), lo: beUint(lo.str), hi: beUint(hi.str)})
				}
			}
			mode, ops = "", ops[:0]
		case "endbfchar":
			for i := 0; i+1 < len(ops); i += 2 {
				if ops[i].kind == 's' && ops[i+1].kind == 's' && len(ops[i].str) <= 4 {
					f.toUnicode[beUint(ops[i].str)] = utf16BE(ops[i+1].str)
				}
			}
			mode, ops = "", ops[:0]
		case "endbfrange":
			for i := 0; i+2 < len(ops); i += 3 {
				lo, hi, dst := ops[i], ops[i+1], ops[i+2]
				if lo.kind != 's' || hi.kind != 's' || len(lo.str) > 4 || len(hi.str) > 4 {
					continue
				}
				a, z := beUint(lo.str), beUint(hi.str)
				if z < a || z-a > 0xFFFF {
					continue
				}
				switch dst.kind {
				case 's':
					// Consecutive codes map to consecutive values: the
					// last UTF-16 unit is incremented.
					base := append([]byte(nil), dst.str...)
					for c := a; c <= z; c++ {
						f.toUnicode[c] = utf16BE(base)
						if len(base) >= 2 {
							v := uint16(base[len(base)-2])<<8 | uint16(base[len(base)-1])
							v++
							base[len(base)-2], base[len(base)-1] = byte(v>>8), byte(v)
						}
					}
				case 'a':
					for k, e := range dst.arr {
						if e.kind == 's' && a+uint32(k) <= z {
							f.toUnicode[a+uint32(k)] = utf16BE(e.str)
						}
					}
				}
			}
			mode, ops = "", ops[:0]
		default:
			if mode == "" {
				ops = ops[:0]
			}
		}
	}
}

func beUint(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

// utf16BE decodes a ToUnicode destination; control characters are
// dropped (some generators map glyphs to U+0000).
func utf16BE(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	var sb strings.Builder
	for _, r := range utf16.Decode(u) {
		if r >= 0x20 && r != utf8.RuneError {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// pdfLexer tokenizes content streams and CMaps (PDF 32000-1 §7.2–7.3):
// numbers, names, literal and hexadecimal strings, arrays, dictionaries
// (skipped) and operators.
type pdfLexer struct {
	b []byte
	i int
}

func pdfSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func pdfDelim(c byte) bool {
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' || c == '/' || c == '%'
}

// operand returns the next operand, or an operator (kind 'o'), or kind 0
// at the end. Arrays are returned whole (kind 'a'); dictionaries are
// skipped.
func (l *pdfLexer) operand() pdfOperand {
	return l.value(0)
}

func (l *pdfLexer) value(depth int) pdfOperand {
	for {
		l.skipSpace()
		if l.i >= len(l.b) {
			return pdfOperand{}
		}
		c := l.b[l.i]
		switch {
		case c == '(':
			return pdfOperand{kind: 's', str: l.literal()}
		case c == '<' && l.i+1 < len(l.b) && l.b[l.i+1] == '<':
			l.i += 2
			l.skipDict()
			continue
		case c == '<':
			return pdfOperand{kind: 's', str: l.hex()}
		case c == '[':
			l.i++
			var arr []pdfOperand
			for {
				l.skipSpace()
				if l.i >= len(l.b) {
					return pdfOperand{kind: 'a', arr: arr}
				}
				if l.b[l.i] == ']' {
					l.i++
					return pdfOperand{kind: 'a', arr: arr}
				}
				if depth >= 8 {
					l.i++
					continue
				}
				v := l.value(depth + 1)
				if v.kind == 0 {
					return pdfOperand{kind: 'a', arr: arr}
				}
				if len(arr) < pdfMaxArray {
					arr = append(arr, v)
				}
			}
		case c == '/':
			l.i++
			start := l.i
			for l.i < len(l.b) && !pdfSpace(l.b[l.i]) && !pdfDelim(l.b[l.i]) {
				l.i++
			}
			return pdfOperand{kind: '/', str: l.b[start:l.i]}
		case c == ']' || c == ')' || c == '>' || c == '{' || c == '}':
			l.i++ // stray delimiter
			continue
		case c == '+' || c == '-' || c == '.' || c >= '0' && c <= '9':
			start := l.i
			l.i++
			for l.i < len(l.b) && (l.b[l.i] == '.' || l.b[l.i] >= '0' && l.b[l.i] <= '9') {
				l.i++
			}
			v, _ := strconv.ParseFloat(string(l.b[start:l.i]), 64)
			return pdfOperand{kind: 'n', num: v}
		default:
			start := l.i
			for l.i < len(l.b) && !pdfSpace(l.b[l.i]) && !pdfDelim(l.b[l.i]) {
				l.i++
			}
			if l.i == start { // a lone delimiter we do not handle
				l.i++
				continue
			}
			return pdfOperand{kind: 'o', str: l.b[start:l.i]}
		}
	}
}

func (l *pdfLexer) skipSpace() {
	for l.i < len(l.b) {
		c := l.b[l.i]
		if pdfSpace(c) {
			l.i++
			continue
		}
		if c == '%' {
			for l.i < len(l.b) && l.b[l.i] != '\n' && l.b[l.i] != '\r' {
				l.i++
			}
			continue
		}
		return
	}
}

// skipDict skips to the matching ">>" (dictionaries in content streams
// are marked-content properties and inline image parameters).
func (l *pdfLexer) skipDict() {
	depth := 1
	for l.i < len(l.b) && depth > 0 {
		switch {
		case l.b[l.i] == '(':
			l.literal()
			continue
		case l.i+1 < len(l.b) && l.b[l.i] == '<' && l.b[l.i+1] == '<':
			depth++
			l.i += 2
			continue
		case l.i+1 < len(l.b) && l.b[l.i] == '>' && l.b[l.i+1] == '>':
			depth--
			l.i += 2
			continue
		}
		l.i++
	}
}

// literal reads a (string) with its escapes and balanced parentheses.
func (l *pdfLexer) literal() []byte {
	l.i++ // (
	var out []byte
	depth := 1
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if l.i >= len(l.b) {
				return out
			}
			e := l.b[l.i]
			l.i++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.i < len(l.b) && l.b[l.i] == '\n' {
					l.i++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '7'; k++ {
						v = v*8 + int(l.b[l.i]-'0')
						l.i++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// hex reads a <hex string>; an odd final digit is followed by 0.
func (l *pdfLexer) hex() []byte {
	l.i++ // <
	var out []byte
	var cur byte
	half := false
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		var v byte
		switch {
		case c == '>':
			if half {
				out = append(out, cur<<4)
			}
			return out
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			continue
		}
		if half {
			out = append(out, cur<<4|v)
			half = false
		} else {
			cur, half = v, true
		}
	}
	return out
}

// skipInlineImage skips the parameters and data of an inline image: up
// to "EI" standing alone after the "ID" operator.
func (l *pdfLexer) skipInlineImage() {
	id := bytes.Index(l.b[l.i:], []byte("ID"))
	if id < 0 {
		l.i = len(l.b)
		return
	}
	l.i += id + 2
	for {
		k := bytes.Index(l.b[l.i:], []byte("EI"))
		if k < 0 {
			l.i = len(l.b)
			return
		}
		at := l.i + k
		l.i = at + 2
		if at > 0 && pdfSpace(l.b[at-1]) && (l.i >= len(l.b) || pdfSpace(l.b[l.i])) {
			return
		}
	}
}
