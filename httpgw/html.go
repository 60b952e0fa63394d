package httpgw

import (
	"bytes"
	"html"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

// HTML inspection reads a document two ways. The raw scan (prepareText's)
// sees every byte as it is: text, attribute values, inline scripts,
// comments. The structural view sees what a browser shows: text joined
// across inline tags (138<b>1234</b>5678 is one number on screen) and
// character references decoded (&#49;&#51;… is digits on screen), and
// attribute values decoded, then split into pieces that may hide an
// identifier behind URL-encoding or base64. What the structural view finds
// and the raw scan did not is masked character by character in the
// document's own bytes, so tags and attributes stay where they were.

// inlineTags continue a line of text: a value split by them is one value
// on screen. Any other tag (td, p, br, div …) ends the text run.
var inlineTags = map[string]bool{
	"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "big": true, "cite": true, "code": true,
	"data": true, "del": true, "dfn": true, "em": true, "font": true, "i": true, "ins": true, "kbd": true,
	"label": true, "mark": true, "nobr": true, "q": true, "s": true, "samp": true, "small": true,
	"span": true, "strike": true, "strong": true, "sub": true, "sup": true, "time": true, "tt": true,
	"u": true, "var": true, "wbr": true,
}

// charSpan is one decoded character: its offset in the decoded text and
// the bytes of the document that encode it (one byte, a UTF-8 sequence, or
// a character reference).
type charSpan struct {
	text, start, end int32
}

// decodedText is text decoded from the document, with where each of its
// characters came from.
type decodedText struct {
	text  []byte
	chars []charSpan
	raw   []pii.Match // the raw scan's matches, sorted
}

func (d *decodedText) reset() {
	d.text, d.chars = d.text[:0], d.chars[:0]
}

// keepTail keeps only the characters in the last n bytes of the text, so
// that a long run is judged in pieces without losing a value across the
// cut (a value found in both pieces is masked once).
func (d *decodedText) keepTail(n int) {
	from := sort.Search(len(d.chars), func(i int) bool { return int(d.chars[i].text) >= len(d.text)-n })
	if from >= len(d.chars) {
		d.reset()
		return
	}
	shift := d.chars[from].text
	d.text = d.text[:copy(d.text, d.text[shift:])]
	d.chars = d.chars[:copy(d.chars, d.chars[from:])]
	for i := range d.chars {
		d.chars[i].text -= shift
	}
}

// htmlRunMax bounds a text run held for judging (a page of one long
// paragraph or <pre> would otherwise be held whole, with a span per
// character).
const htmlRunMax = 64 << 10

// appendRaw decodes raw (document bytes from offset base) and appends it;
// refs says whether character references are decoded (not in scripts).
func (d *decodedText) appendRaw(raw []byte, base int, refs bool) {
	for i := 0; i < len(raw); {
		if refs && raw[i] == '&' {
			if s, n := charRef(raw[i:]); n > 0 {
				for _, r := range s {
					d.chars = append(d.chars, charSpan{int32(len(d.text)), int32(base + i), int32(base + i + n)})
					d.text = utf8.AppendRune(d.text, r)
				}
				i += n
				continue
			}
		}
		_, n := utf8.DecodeRune(raw[i:])
		d.chars = append(d.chars, charSpan{int32(len(d.text)), int32(base + i), int32(base + i + n)})
		d.text = append(d.text, raw[i:i+n]...)
		i += n
	}
}

// charRef decodes the character reference at the start of b ("&#49;",
// "&#x31;", "&#49" without its semicolon as browsers accept, "&amp;"): the
// text and the bytes it takes, or n == 0 when b starts none.
func charRef(b []byte) (string, int) {
	if len(b) < 3 {
		return "", 0
	}
	if b[1] == '#' {
		i, base := 2, 10
		if b[i] == 'x' || b[i] == 'X' {
			i, base = 3, 16
		}
		j := i
		for j < len(b) && j-i < 8 && isDigitIn(b[j], base) {
			j++
		}
		if j == i {
			return "", 0
		}
		v, _ := strconv.ParseUint(string(b[i:j]), base, 32)
		if j < len(b) && b[j] == ';' {
			j++
		}
		r := rune(v)
		if v == 0 || v > utf8.MaxRune || !utf8.ValidRune(r) {
			r = utf8.RuneError
		}
		return string(r), j
	}
	j := 1
	for j < len(b) && j < 33 && (b[j] >= 'a' && b[j] <= 'z' || b[j] >= 'A' && b[j] <= 'Z' || b[j] >= '0' && b[j] <= '9') {
		j++
	}
	if j == 1 || j >= len(b) || b[j] != ';' {
		return "", 0 // named references only with their semicolon
	}
	ref := string(b[:j+1])
	if s := html.UnescapeString(ref); s != ref {
		return s, j + 1
	}
	return "", 0
}

func isDigitIn(c byte, base int) bool {
	return c >= '0' && c <= '9' || base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
}

// htmlFind is a finding of the structural view: the characters (document
// bytes) that hold a value of type typ.
type htmlFind struct {
	typ   custos.DataType
	value string
	chars []charSpan
}

// htmlEdit replaces document bytes [start, end).
type htmlEdit struct {
	start, end int
	with       string
}

// prepareHTML judges an HTML document: the raw scan, then the structural
// view for what the raw scan cannot see.
func prepareHTML(body []byte, in *inspection) applier {
	raw := in.det.AppendMatches(nil, body)
	for _, m := range raw {
		in.noteMatch(body, m)
	}
	finds := scanHTML(body, in, raw)
	if !in.keyed {
		var subs []htmlSubject
		for _, m := range raw {
			if subjectTypes[m.Type] {
				subs = append(subs, htmlSubject{m.Offset, string(m.Type) + "\x00" + string(body[m.Offset:m.Offset+m.Length])})
			}
		}
		for _, f := range finds {
			if subjectTypes[f.typ] {
				subs = append(subs, htmlSubject{int(f.chars[0].start), string(f.typ) + "\x00" + f.value})
			}
		}
		if n, cut := htmlCut(body, subs); n > 0 {
			in.records, in.cut = n, cut
		}
	}
	return func(vm valueMasker) ([]byte, error) {
		if len(raw) == 0 && len(finds) == 0 {
			return body, nil
		}
		var edits []htmlEdit
		for _, m := range raw {
			s, _ := vm.one(m.Type, string(body[m.Offset:m.Offset+m.Length]))
			edits = append(edits, htmlEdit{m.Offset, m.Offset + m.Length, html.EscapeString(s)})
		}
		for _, f := range finds {
			edits = f.edits(vm, edits)
		}
		slices.SortFunc(edits, func(a, b htmlEdit) int { return a.start - b.start })
		out := make([]byte, 0, len(body))
		last := 0
		for _, e := range edits {
			if e.start < last {
				continue // overlaps an edit already made
			}
			out = append(out, body[last:e.start]...)
			out = append(out, e.with...)
			last = e.end
		}
		return append(out, body[last:]...), nil
	}
}

// edits masks a structural finding in the document's bytes: character by
// character when the mask keeps the value's length (the usual partial
// mask: 138****5678), so each character stays in its own text node or
// reference; otherwise the whole mask goes where the first character was
// and the other characters are removed (tags between them stay).
func (f htmlFind) edits(vm valueMasker, dst []htmlEdit) []htmlEdit {
	s, _ := vm.one(f.typ, f.value)
	if utf8.RuneCountInString(s) == len(f.chars) {
		i := 0
		for _, r := range s {
			c := f.chars[i]
			i++
			orig, _ := utf8.DecodeRuneInString(f.value[c.text-f.chars[0].text:])
			if r == orig {
				continue
			}
			dst = append(dst, htmlEdit{int(c.start), int(c.end), html.EscapeString(string(r))})
		}
		return dst
	}
	for i, c := range f.chars {
		var with string
		if i == 0 {
			with = html.EscapeString(s)
		}
		dst = append(dst, htmlEdit{int(c.start), int(c.end), with})
	}
	return dst
}

// scanHTML walks the document's tokens and judges text runs and attribute
// values as a browser would show them. A finding that overlaps a raw match
// is the same value seen plainly: the raw match masks it, so it is left
// out.
func scanHTML(body []byte, in *inspection, raw []pii.Match) []htmlFind {
	var finds []htmlFind
	var run, attr decodedText
	run.raw, attr.raw = raw, raw
	var vals [][2]int
	var nameBuf [16]byte
	flush := func() {
		finds = judgeDecoded(in, &run, false, true, finds)
		run.reset()
	}
	z := xhtml.NewTokenizer(bytes.NewReader(body))
	off := 0
	rawText := false // inside script or style: no references, no joining
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		tok := z.Raw()
		start := off
		off += len(tok)
		switch tt {
		case xhtml.TextToken:
			if rawText {
				continue // the raw scan covers scripts and styles
			}
			run.appendRaw(body[start:off], start, true)
			if len(run.text) > htmlRunMax {
				finds = judgeDecoded(in, &run, false, true, finds)
				run.keepTail(pii.MaxMatchLen)
			}
		case xhtml.CommentToken:
			// A comment between digits hides nothing on screen: join.
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			name := tagName(body[start:off], &nameBuf)
			if !inlineTags[string(name)] {
				flush()
			}
			rawText = tt == xhtml.StartTagToken && (string(name) == "script" || string(name) == "style")
			if tt != xhtml.EndTagToken {
				vals = attrValues(vals[:0], body[start:off])
				for _, v := range vals {
					raw := body[start+v[0] : start+v[1]]
					if len(raw) < 6 {
						continue
					}
					attr.reset()
					attr.appendRaw(raw, start+v[0], true)
					// Without references the raw scan has seen exactly
					// this text: only hidden encodings are left to look for.
					finds = judgeDecoded(in, &attr, true, bytes.IndexByte(raw, '&') >= 0, finds)
				}
			}
		default:
			flush()
		}
	}
	flush()
	return finds
}

// judgeDecoded runs the detectors over decoded text, then looks for
// identifiers hidden behind URL-encoding or base64 in its pieces (words;
// in attribute values also query parameters and path segments).
func judgeDecoded(in *inspection, d *decodedText, attr, detect bool, finds []htmlFind) []htmlFind {
	if len(d.text) == 0 {
		return finds
	}
	if detect {
		in.ms = in.det.AppendMatches(in.ms[:0], d.text)
		for _, m := range in.ms {
			in.noteMatch(d.text, m)
			finds = d.find(finds, m.Type, m.Offset, m.Offset+m.Length)
		}
	}
	// Pieces: split on spaces, and in attributes on URL punctuation.
	isSep := func(c byte) bool {
		return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
			attr && (c == '?' || c == '&' || c == '#' || c == ';' || c == ',' || c == '"' || c == '\'')
	}
	t := d.text
	for i := 0; i < len(t); {
		for i < len(t) && isSep(t[i]) {
			i++
		}
		j := i
		for j < len(t) && !isSep(t[j]) {
			j++
		}
		if j-i >= 6 {
			finds = judgeHidden(in, d, i, j, attr, finds)
		}
		i = j
	}
	return finds
}

// judgeHidden decodes one piece [i, j) of d; in attributes also the value
// after key= and each path segment.
func judgeHidden(in *inspection, d *decodedText, i, j int, attr bool, finds []htmlFind) []htmlFind {
	try := func(a, b int) bool {
		dec, ok := decodeHidden(d.text[a:b])
		if !ok {
			return false
		}
		ms := in.det.AppendMatches(in.ms[:0], dec)
		if len(ms) == 0 {
			return false
		}
		for _, m := range ms {
			in.addType(m.Type, "")
			in.addDetected(m.Type, dec[m.Offset:m.Offset+m.Length])
		}
		finds = d.find(finds, ms[0].Type, a, b)
		return true
	}
	if try(i, j) || !attr {
		return finds
	}
	if k := bytes.IndexByte(d.text[i:j], '='); k > 0 && try(i+k+1, j) {
		return finds
	}
	for a := i; a < j; {
		b := a
		for b < j && d.text[b] != '/' {
			b++
		}
		if b-a >= 6 && b-a < j-i {
			try(a, b)
		}
		a = b + 1
	}
	return finds
}

// find appends the finding for decoded bytes [a, b), unless the raw scan
// already matched those document bytes.
func (d *decodedText) find(finds []htmlFind, t custos.DataType, a, b int) []htmlFind {
	lo := sort.Search(len(d.chars), func(i int) bool { return int(d.chars[i].text) >= a })
	hi := sort.Search(len(d.chars), func(i int) bool { return int(d.chars[i].text) >= b })
	if lo >= hi {
		return finds
	}
	start, end := int(d.chars[lo].start), int(d.chars[hi-1].end)
	i := sort.Search(len(d.raw), func(i int) bool { return d.raw[i].Offset+d.raw[i].Length > start })
	if i < len(d.raw) && d.raw[i].Offset < end {
		return finds
	}
	return append(finds, htmlFind{typ: t, value: string(d.text[a:b]), chars: slices.Clone(d.chars[lo:hi])})
}

// attrValues finds the value spans [start, end) of the attributes in a
// raw start tag (offsets into tag), quoted or not, as the HTML tokenizer
// reads them.
func attrValues(out [][2]int, tag []byte) [][2]int {
	i := 1
	for i < len(tag) && !isHTMLSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
		i++ // the tag name
	}
	for i < len(tag) {
		for i < len(tag) && (isHTMLSpace(tag[i]) || tag[i] == '/') {
			i++
		}
		if i >= len(tag) || tag[i] == '>' {
			break
		}
		// The name: up to space, '=', '>' or '/' (its first character may
		// be '=').
		i++
		for i < len(tag) && !isHTMLSpace(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/' {
			i++
		}
		for i < len(tag) && isHTMLSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			continue
		}
		i++
		for i < len(tag) && isHTMLSpace(tag[i]) {
			i++
		}
		if i >= len(tag) {
			break
		}
		if q := tag[i]; q == '"' || q == '\'' {
			end := bytes.IndexByte(tag[i+1:], q)
			if end < 0 {
				break
			}
			out = append(out, [2]int{i + 1, i + 1 + end})
			i += end + 2
			continue
		}
		s := i
		for i < len(tag) && !isHTMLSpace(tag[i]) && tag[i] != '>' {
			i++
		}
		out = append(out, [2]int{s, i})
	}
	return out
}

// tagName is the lower-cased name of a raw tag ("<TD class=…>" gives
// "td"), in buf; names longer than buf (no inline tag is) are cut.
func tagName(tag []byte, buf *[16]byte) []byte {
	i := 1
	if i < len(tag) && tag[i] == '/' {
		i++
	}
	n := 0
	for ; i < len(tag) && !isHTMLSpace(tag[i]) && tag[i] != '/' && tag[i] != '>'; i++ {
		if n == len(buf) {
			return buf[:0]
		}
		c := tag[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return buf[:n]
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
