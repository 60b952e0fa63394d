package pii

import (
	"strings"

	"github.com/custos-dev/custos"
)

func isHan(r rune) bool { return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF }

// byFirst indexes dictionary words by their first character, longest
// first so that "收货地址" wins over "地址"-like prefixes.
func byFirst(words []string) map[rune][]string {
	m := make(map[rune][]string)
	for _, w := range words {
		var r rune
		for _, r = range w {
			break
		}
		m[r] = append(m[r], w)
	}
	for _, ws := range m {
		for i := 1; i < len(ws); i++ {
			for j := i; j > 0 && len(ws[j]) > len(ws[j-1]); j-- {
				ws[j], ws[j-1] = ws[j-1], ws[j]
			}
		}
	}
	return m
}

// anchorWords are the dictionary words by first character, in one table
// so that an anchor costs one load.
type anchorWords struct{ names, addressContext, divisions []string }

var wordsAt = func() *[0x10000]*anchorWords {
	var t [0x10000]*anchorWords
	get := func(r rune) *anchorWords {
		if t[r] == nil {
			t[r] = &anchorWords{}
		}
		return t[r]
	}
	for r, ws := range byFirst(nameContext) {
		get(r).names = ws
	}
	for r, ws := range byFirst(addressContext) {
		get(r).addressContext = ws
	}
	for r, ws := range byFirst(divisions) {
		get(r).divisions = ws
	}
	// a traditional character starts the words of its simplified one,
	// compared folded (prefixAt); none of them starts words of its own
	for si, trs := range tradForms {
		for _, tr := range trs {
			if si <= 0xFFFF && tr <= 0xFFFF && t[si] != nil && t[tr] == nil {
				t[tr] = t[si]
			}
		}
	}
	return &t
}()

// prefixAt returns the length of the longest word of ws at text[i], or 0.
// Traditional characters match their simplified forms (fold.go): that
// comparison runs only when the exact one fails and text[i:] holds a
// traditional character within the longest word's length.
func prefixAt(text []byte, i int, ws []string) int {
	longest := 0
	for _, w := range ws {
		// the last byte first: most words of a list share the first
		// character and differ at the end
		if len(text)-i >= len(w) && text[i+len(w)-1] == w[len(w)-1] && string(text[i:i+len(w)]) == w {
			return len(w)
		}
		longest = max(longest, len(w))
	}
	if longest == 0 || !tradAt(text, i, longest) {
		return 0
	}
	for _, w := range ws {
		if eqFold(text, i, w) {
			return len(w)
		}
	}
	return 0
}

// cjk handles the 3-byte character at text[i]: full-width digits and
// Chinese numerals start a numeric run; province abbreviations a plate;
// context words a name or an address; division names an address.
func (d *Detector) cjk(dst []Match, text []byte, i int) ([]Match, int) {
	r := decode3(text, i)
	if r == 0 {
		return dst, i + 1
	}
	f := anchors[r]
	if f == 0 {
		return dst, i + 3
	}
	if f&(anchorPlate|anchorDigit) == 0 && !pairAt(text, i, r) {
		return dst, i + 3 // no dictionary word starts with these two characters
	}
	if f&anchorPlate != 0 {
		if e, ok := plateAt(text, i); ok {
			_, c := adjust(text, i, kCNPlate, 0.85, false)
			if c >= MinConfidence {
				dst = append(dst, Match{Type: custos.TypeCNPlate, Offset: i, Length: e - i, Confidence: c})
			}
			return dst, e
		}
	}
	aw := wordsAt[r]
	if f&anchorName != 0 {
		if l := prefixAt(text, i, aw.names); l > 0 {
			return d.nameAfter(dst, text, i+l, i)
		}
	}
	if f&anchorAddressContext != 0 {
		if l := prefixAt(text, i, aw.addressContext); l > 0 {
			p := skipCopula(text, skipSeps(text, i+l), true)
			if e, ok := addressAt(text, p); ok {
				return append(dst, Match{Type: custos.TypeCNAddress, Offset: p, Length: e - p, Confidence: 0.92}), e
			}
			return dst, i + l
		}
	}
	if f&anchorAddress != 0 && !d.addrFailed(i) {
		if l := prefixAt(text, i, aw.divisions); l > 0 {
			e, ok, stop, limit := scanAddress(text, i)
			if !ok {
				d.addrFrom, d.addrStop, d.addrLimit = i, stop, limit
			}
			if ok {
				c := 0.85
				if inContext(text, i, kCNAddress) {
					c = 0.95
				}
				return append(dst, Match{Type: custos.TypeCNAddress, Offset: i, Length: e - i, Confidence: c}), e
			}
		}
	}
	if f&anchorDigit != 0 {
		return d.numeric(dst, text, i, false)
	}
	return dst, i + 3
}

// skipSeps skips what separates a label from its value: spaces, colons,
// equals signs, quotes, full-width colon and space.
func skipSeps(text []byte, p int) int {
	for k := 0; k < 4 && p < len(text); k++ {
		switch text[p] {
		case ' ', '\t', ':', '=', '"', '\'':
			p++
			continue
		}
		if r := decode3(text, p); r == '：' || r == '\u3000' || r == '】' || r == '」' {
			p += 3
			continue
		}
		break
	}
	return p
}

// skipCopula skips a copula between a label and its value (送货地址是北京市…,
// 地址为…, 姓名是张三) and the separators after it: the value starts behind
// it. place also skips 在 (住址在…), which before a name would turn
// 乘客在王府井 into a person.
func skipCopula(text []byte, p int, place bool) int {
	switch fold(decode3(text, p)) {
	case '为', '是':
		return skipSeps(text, p+3)
	case '在':
		if place {
			return skipSeps(text, p+3)
		}
	}
	return p
}

// nameAfter reads a Chinese name after a context word ending at p
// (further context words, as in 乘客姓名, are skipped). A name is a known
// surname and one or two more Han characters, followed by a non-Han
// character or a word that usually follows names (先生, 的, 电话…).
// Anything else is not reported: precision over recall.
func (d *Detector) nameAfter(dst []Match, text []byte, p, ctx int) ([]Match, int) {
	n := len(text)
	for k := 0; k < 3; k++ {
		p = skipSeps(text, p)
		if q := skipCopula(text, p, false); q != p { // 法定代表人为孙丽, 姓名是张三
			p = q
			continue
		}
		r := decode3(text, p)
		if r == 0 || anchors[r]&anchorName == 0 {
			break
		}
		l := prefixAt(text, p, wordsAt[r].names)
		if l == 0 {
			break
		}
		p += l
	}
	if r := decode3(text, p); !isHan(r) || anchors[fold(r)]&(anchorSurname|anchorCompound) == 0 {
		// no surname here: the usual case after a label in running
		// text (客户满意度, 学生会), decided before reading seven characters
		return dst, max(p, ctx+3)
	}
	var offs [8]int
	var rs [7]rune
	cnt := 0
	q := p
	offs[0] = q
	for cnt < 7 && q < n {
		r := decode3(text, q)
		if !isHan(r) {
			break
		}
		rs[cnt] = fold(r) // the name tests below use the dictionaries' forms
		cnt++
		q += 3
		offs[cnt] = q
	}
	if cnt < 2 {
		return dst, max(p, ctx+3)
	}
	sl := 0
	switch {
	case cnt >= 3 && anchors[rs[0]]&anchorCompound != 0 && compoundSurname(text[p:p+6]):
		sl = 2
	case anchors[rs[0]]&anchorSurname != 0:
		sl = 1
	default:
		return dst, max(p, ctx+3)
	}
	pick, c := -1, 0.0
	switch g := cnt - sl; {
	case g == 2 && strings.ContainsRune(nameStopChar, rs[cnt-1]):
		pick, c = cnt-1, 0.85
	case (g == 1 || g == 2) && cnt < 7:
		pick, c = cnt, 0.9
	case g > 2:
		for g := 1; g <= 2; g++ {
			if anchors[rs[sl+g]]&anchorStop != 0 && prefixAt(text, offs[sl+g], nameStop) > 0 {
				pick, c = sl+g, 0.85
				break
			}
		}
	}
	if pick < 0 || prefixAt(text, offs[sl], titles) > 0 || sl == 1 && isNameWord(rs[0], rs[1]) {
		return dst, max(p, ctx+3)
	}
	return append(dst, Match{Type: custos.TypeCNName, Offset: p, Length: offs[pick] - p, Confidence: c}), offs[pick]
}

func compoundSurname(b []byte) bool {
	for _, s := range compoundSurnames {
		if string(b) == s || eqFold(b, 0, s) {
			return true
		}
	}
	return false
}

// Address markers: a road-level word and a number-level word (after a
// digit or a letter) must both appear.
const (
	roadMarks   = "路街道巷村镇乡里弄胡同"
	numberMarks = "号室栋幢楼层座弄"
)

// addressAt reads an address starting at text[p]: Han characters, digits
// (ASCII, full-width, Chinese numerals), ASCII letters, '-' and '#', up
// to 64 characters. It must contain a road word and a number word after a
// digit; the match ends after the last number word (号, 室, 栋…).
func addressAt(text []byte, p int) (int, bool) {
	e, ok, _, _ := scanAddress(text, p)
	return e, ok
}

// scanAddress is addressAt that also says where the scan stopped and
// whether it stopped at the length limit rather than at a character that
// cannot be part of an address.
func scanAddress(text []byte, p int) (end int, ok bool, stop int, limit bool) {
	n := len(text)
	q, runes, last := p, 0, -1
	road, prevNum := false, false
	for q < n && runes < 64 {
		c := text[q]
		runes++
		switch {
		case isDigit(c) || isUpper(c):
			prevNum = true
			q++
			continue
		case c == '-' || c == '#':
			prevNum = false
			q++
			continue
		case c < 0xE0 || c > 0xEF:
			runes = 64
			continue
		}
		r := decode3(text, q)
		switch {
		case r >= 0xFF10 && r <= 0xFF19, cnDigit(r) != 0 && prevNum:
			prevNum = true
		case r >= 0xFF21 && r <= 0xFF3A: // full-width capital
			prevNum = true
		case isHan(r):
			f := anchors[r]
			if f&anchorRoad != 0 {
				road = true
			}
			if prevNum && f&anchorNumber != 0 {
				last = q + 3
			} else if prevNum && fold(r) == '单' && decode3(text, q+3) == '元' {
				last = q + 6
			}
			prevNum = cnDigit(r) != 0
		default:
			runes = 64
			continue
		}
		q += 3
	}
	limit = runes >= 64 && q < n && (isDigit(text[q]) || isUpper(text[q]) || text[q] >= 0xE0 && text[q] <= 0xEF)
	if !road || last < 0 || last-p < 18 {
		return 0, false, q, limit
	}
	return last, true, q, limit
}

// plateAt reads a vehicle plate at the province abbreviation text[i]:
// a letter (not I or O), an optional '·', and five characters (at most
// two letters) or a new-energy serial of six.
func plateAt(text []byte, i int) (int, bool) {
	n := len(text)
	q := i + 3
	if q >= n || !isUpper(text[q]) || text[q] == 'I' || text[q] == 'O' {
		return 0, false
	}
	q++
	switch {
	case q+1 < n && text[q] == 0xC2 && text[q+1] == 0xB7: // ·
		q += 2
	case q+2 < n && text[q] == 0xE2 && text[q+1] == 0x80 && text[q+2] == 0xA2: // •
		q += 3
	case q < n && (text[q] == ' ' || text[q] == '-'):
		q++
	}
	s := q
	letters := 0
	for q < n && q-s < 7 && (isUpper(text[q]) || isDigit(text[q])) {
		if text[q] == 'I' || text[q] == 'O' {
			return 0, false
		}
		if isUpper(text[q]) {
			letters++
		}
		q++
	}
	if q < n && isWord(text[q]) {
		return 0, false
	}
	sr := text[s:q]
	switch len(sr) {
	case 5:
		return q, letters <= 2
	case 6:
		small := strings.IndexByte("ABCDEFGHJK", sr[0]) >= 0 && allDigits(sr[2:])
		large := allDigits(sr[:5]) && (sr[5] == 'D' || sr[5] == 'F')
		return q, small || large
	}
	return 0, false
}

// isFieldSep reports whether c separates fields in lists and tables.
func isFieldSep(c byte) bool { return c == ',' || c == '\t' || c == '|' || c == ';' || c == ' ' }

// nameBefore finds a name written right before a phone number or ID:
// as the previous field ("张伟,13800138000", "张伟 13800138000", as in
// leaked lists), or before the number's own label ("李娜（身份证1101…",
// "王芳，电话：1380…"). The name must be a whole run of Han characters — a
// known surname and one or two more — with no Han character before it.
func nameBefore(dst []Match, text []byte, start int, k kind) []Match {
	if start < 7 {
		return dst
	}
	if n := len(dst); isFieldSep(text[start-1]) {
		if dst = nameField(dst, text, start); len(dst) > n {
			return dst
		}
	}
	return nameBeforeLabel(dst, text, start, k)
}

// nameField finds a name as the whole field before the one at start.
func nameField(dst []Match, text []byte, start int) []Match {
	e := start - 1
	q := e
	for k := 0; k < 4 && q >= 3 && isHan(decode3(text, q-3)); k++ {
		q -= 3
	}
	if q == e || q > 0 && !isFieldSep(text[q-1]) && text[q-1] != '\n' {
		return dst
	}
	if len(dst) > 0 && dst[len(dst)-1].Offset+dst[len(dst)-1].Length > q {
		return dst
	}
	if !nameShape(text[q:e]) {
		return dst
	}
	return append(dst, Match{Type: custos.TypeCNName, Offset: q, Length: e - q, Confidence: 0.75})
}

// nameShape reports whether b (Han characters only) is a compound
// surname or one of the commonSurnameRank most frequent surnames, and one
// or two more characters.
func nameShape(b []byte) bool {
	n := len(b) / 3
	switch {
	case n >= 3 && n <= 4 && compoundSurname(b[:6]):
		return true
	case n >= 2 && n <= 3:
		// Without a label only the common surnames count.
		rank := surnameList.rank[fold(decode3(b, 0))]
		return rank > 0 && rank <= commonSurnameRank && prefixAt(b, 3, titles) == 0 && !isNameWord(decode3(b, 0), decode3(b, 3))
	}
	return false
}

// nameBeforeLabel handles "李娜（身份证1101…": the label of k right before
// start (only separators between), one punctuation mark or space before
// the label, and a name before that.
func nameBeforeLabel(dst []Match, text []byte, start int, k kind) []Match {
	w := window(text, start)
	off := start - len(w)
	at, _ := ctxScan(w, k.bit)
	if at < 0 {
		return dst
	}
	lab := off + at
	// only separators between the label word and the number
	j := lab
	for j < start && (isWord(text[j]) || isHan(decode3(text, j))) {
		if isWord(text[j]) {
			j++
		} else {
			j += 3
		}
	}
	if skipSeps(text, j) != start && j != start {
		return dst
	}
	e := lab
	switch {
	case e >= 1 && (text[e-1] == ' ' || text[e-1] == '(' || text[e-1] == ','):
		e--
	case e >= 3 && isNamePunct(decode3(text, e-3)):
		e -= 3
	default:
		return dst
	}
	q := e
	for n := 0; n < 4 && q >= 3 && isHan(decode3(text, q-3)); n++ {
		q -= 3
	}
	if q == e || q >= 3 && isHan(decode3(text, q-3)) {
		return dst
	}
	if len(dst) > 0 && dst[len(dst)-1].Offset+dst[len(dst)-1].Length > q {
		return dst
	}
	if !nameShape(text[q:e]) {
		return dst
	}
	return append(dst, Match{Type: custos.TypeCNName, Offset: q, Length: e - q, Confidence: 0.75})
}

// isNamePunct: full-width punctuation that separates a name from the
// label of the number that follows it.
func isNamePunct(r rune) bool {
	switch r {
	case '（', '，', '、', '\u3000', '：', '；':
		return true
	}
	return false
}

// addrFailed reports whether an address scan from i would only repeat a
// failed one: inside the span of a scan that failed at a terminator it
// cannot succeed; within 16 characters of one that failed at the length
// limit it almost cannot, and rescanning every division name in a long
// run of Han text ("北京北京北京…") would cost up to 64 characters each.
func (d *Detector) addrFailed(i int) bool {
	if i <= d.addrFrom || i >= d.addrStop {
		return false
	}
	return !d.addrLimit || i < d.addrFrom+48
}
