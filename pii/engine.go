package pii

import (
	"encoding/binary"
	"math/bits"

	"github.com/custos-dev/custos"
)

const (
	maxGroups = 24 // digit groups kept per numeric run
	maxDigits = 48 // digits kept per numeric run
)

// Byte classes of the first pass. Everything else is skipped at once.
const (
	clsNone = iota
	clsDigit
	clsLetter
	clsAt
	clsColon
	clsPlus
	clsCJK // lead byte of a 3-byte UTF-8 sequence
)

var byteClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsLetter
		t[c-'a'+'A'] = clsLetter
	}
	t['@'] = clsAt
	t[':'] = clsColon
	t['+'] = clsPlus
	for c := 0xE0; c <= 0xEF; c++ {
		t[c] = clsCJK
	}
	return t
}()

// group is a run of digits (ASCII, full-width or Chinese numerals) with no
// separator inside: bytes text[start:end], digits d.digits[dstart:dend].
type group struct {
	start, end   int
	dstart, dend int
}

// A Detector finds personal information. Its zero value is ready to use;
// it keeps scratch space between calls so that AppendMatches does not
// allocate beyond growing dst. A Detector must not be used by two
// goroutines at once.
type Detector struct {
	digits [maxDigits]byte
	groups [maxGroups]group
	alnum  [40]byte // normalized alphanumeric candidate (IBAN, HKID)

	// the last failed address scan (see addrFailed)
	addrFrom, addrStop int
	addrLimit          bool

	perChar bool // tests: every Han character to d.cjk, as the Han loop must decide
	scalar  bool // tests: the Go skip loops only, not skip_amd64.s
}

// vecGap is the distance between stops below which the first pass leaves
// skipVec for the Go loop for a while.
const vecGap = 48

// AppendMatches appends the matches in text to dst, ordered by offset,
// and returns the extended slice.
func (d *Detector) AppendMatches(dst []Match, text []byte) []Match {
	base := len(dst)
	n := len(text)
	d.addrFrom, d.addrStop = -1, -1
	vecFrom := 2      // skipVec reads the two bytes before its start
	gap := 2 * vecGap // how far skipVec went on average, lately
	for i := 0; i < n; {
		// Most bytes of most text start nothing: skipVec passes them 64
		// at a time where the CPU allows; else skip eight at a time until
		// one might (see skipPlain), then Han characters three at a time
		// while the anchor bitmap says they start nothing.
		vecStop := false // skipVec stopped here
		if haveVec && !d.scalar && i >= vecFrom && i+65 <= n {
			// it stops only where skipPlain stops and something may
			// start, or where fewer than 65 bytes are left (skipPlain
			// goes on from there)
			from := i
			if i = skipVec(text, i, &hanFlags[0], &vecPairs[0]); i+65 > n {
				i = skipPlain(text, i)
			} else {
				vecStop = true
			}
			if gap += (i - from - gap) / 4; gap < vecGap {
				// Text where something may start every few bytes (a
				// table of numbers, a list of addresses, records): the
				// Go loop costs less there than a block of 64 bytes per
				// stop.
				vecFrom, gap = i+256, 2*vecGap
			}
		} else {
			i = skipPlain(text, i)
		}
		if i >= n {
			break
		}
		last := i
		switch byteClass[text[i]] {
		case clsNone:
			i++
		case clsDigit:
			if i > 0 && (isWord(text[i-1]) || i > 1 && (text[i-1] == '-' || text[i-1] == '.') && isWord(text[i-2])) {
				// inside a longer token: ORDER2024…, a UUID's last group, SKU-123…
				i = wordEnd(text, i)
				continue
			}
			if j, ok := shortRun(text, i); ok {
				i = j // "0 errors", "42.7 ": too few digits to be anything
				continue
			}
			dst, i = d.numeric(dst, text, i, false)
		case clsLetter:
			if inLowerToken(text, i) {
				// inside a word that starts with a lower-case letter:
				// such words start nothing (skipPlain passes their other
				// letters; this is a capital or an n inside one)
				i = wordEnd(text, i)
				continue
			}
			if c := text[i]; c >= 'a' && !(c == 'n' && i+4 <= n && text[i+1] == 'a') {
				// lower-case words start nothing but "name"
				i = wordEnd(text, i)
				continue
			}
			dst, i = d.word(dst, text, i)
		case clsAt:
			dst, i = emailAt(dst, base, text, i)
		case clsColon:
			dst, i = ipv6At(dst, base, text, i)
		case clsPlus:
			if i+1 < n && (i == 0 || !isWord(text[i-1])) {
				if _, w := digitAt(text, i+1); w > 0 {
					dst, i = d.numeric(dst, text, i, true)
					continue
				}
			}
			i++
		case clsCJK:
			// most Han characters start nothing: pass a whole run of them
			// in one loop, without a branch per character where the next
			// one is known (hanSkip), else with the per-character test
			if vecStop {
				// skipVec stopped here: d.cjk decides this character
				// (on one that starts nothing it finds nothing, as the
				// per-character tests show) and skipVec goes on after it
				dst, i = d.cjk(dst, text, i)
				break
			}
			j := i
			for !d.perChar {
				j = hanSkip(text, j)
				if !hanPasses(text, j) {
					break // d.cjk decides
				}
				j += 3
			}
			if j > i {
				i = j
				continue
			}
			dst, i = d.cjk(dst, text, i)
		}
		if i <= last {
			i = last + 1 // defensive: every handler must advance
		}
	}
	return dst
}

// hanPasses reports whether the first pass may skip the character at
// text[j]: a well-formed 3-byte character that starts nothing — no anchor,
// a plate province not followed by a capital, a word anchor whose pair
// with the next character starts no word, a Chinese numeral that no digit
// follows. Otherwise d.cjk decides.
func hanPasses(text []byte, j int) bool {
	if j+2 >= len(text) {
		return false
	}
	b := text[j : j+3 : j+3] // one bounds check for the three bytes
	c0, c1, c2 := b[0], b[1], b[2]
	if c0&0xF0 != 0xE0 || c1&0xC0|(c2&0xC0)>>2 != 0xA0 {
		return false // not a well-formed 3-byte character
	}
	r := uint32(c0&0x0F)<<12 | uint32(c1&0x3F)<<6 | uint32(c2&0x3F)
	k, bit := r>>6&(1<<10-1), uint64(1)<<(r&63)
	if anchorBits[k]&bit != 0 {
		if mustStopBits[k]&bit != 0 ||
			anchors[r]&anchorPlate != 0 && j+3 < len(text) && isUpper(text[j+3]) ||
			wordBits[k]&bit != 0 && pairAt(text, j, rune(r)) ||
			numeralBits[k]&bit != 0 && numeralGoesOn(text, j+3) {
			return false
		}
	}
	return true
}

// hanSkip returns the first j' ≥ j such that text[j'] is not a 3-byte
// character, or is one hanPasses might not pass, or starts the last six
// bytes of text or fewer. It decides as hanPasses does for the characters it
// passes, with table loads and arithmetic instead of a branch on each
// anchor: in prose about 40 % of Han characters are anchors (上, 大, 本…)
// and almost none starts a word, so that branch was mispredicted often.
func hanSkip(text []byte, j int) int {
	flags, pairs := hanFlags, pairBits // locals: no reload per character
	if j < 0 || j+2 >= len(text) {
		return j
	}
	c0, c1, c2 := text[j], text[j+1], text[j+2]
	if c0&0xF0 != 0xE0 || c1&0xC0|(c2&0xC0)>>2 != 0xA0 {
		return j
	}
	r := uint32(c0&0x0F)<<12 | uint32(c1&0x3F)<<6 | uint32(c2&0x3F)
	f := uint32(flags[r])
	// four bytes read at once: the character and one byte past it
	for t := text[j+3:]; len(t) >= 4; t = t[3:] {
		w := binary.LittleEndian.Uint32(t)
		if w&0xC0C0F0 != 0x8080E0 {
			// The next character is not a 3-byte one (the run ends): the
			// character passes unless a digit may go on after it, it may
			// pair with what follows (pairAt with 0: hanPasses decides) or
			// it is a plate province before a capital.
			if f&(hanMust|hanWord|hanNum) == 0 && (f&hanPlate == 0 || !isUpper(byte(w))) {
				j += 3
			}
			break
		}
		r2 := w&0x0F<<12 | w>>2&0xFC0 | w>>16&0x3F
		f2 := uint32(flags[r2])
		h := (r<<16 ^ r2) * 0x9E3779B1 >> (32 - pairLog) // pairKey
		pair := uint32(pairs[h>>6]>>(h&63)) << 1 & hanWord
		// what stops the character (its own bits) against what the pair
		// and the next character allow (hanNext)
		if f&(f2>>hanNext|pair) != 0 {
			break
		}
		j += 3
		r, f = r2, f2
	}
	return j
}

// numeralGoesOn reports whether a digit may follow a Chinese numeral
// ending at text[p]: anything but a Han character that is not a digit.
func numeralGoesOn(text []byte, p int) bool {
	nx := decode3(text, p)
	return nx == 0 || cnDigit(nx) != 0 || nx >= 0xFF10 && nx <= 0xFF19
}

// shortRun reports whether the ASCII digits at text[i], with the single
// spaces, dashes and dots between them, are fewer than four and end at a
// byte that cannot continue a number or a token (ASCII, not a letter,
// digit, '_', 'X' or '+'), or at a lower-case letter; it returns the end,
// after the token in the second case. No type has fewer than four digits
// (an IPv4 address has four, a date six), and no token with a lower-case
// letter in it is a document number, so such a run ("0 errors", "42.7s",
// "12ms") is skipped as numeric would skip it, without reading it;
// anything else goes to numeric, which also reads full-width digits,
// Chinese numerals and tokens glued to capitals.
func shortRun(text []byte, i int) (int, bool) {
	n, digits := len(text), 0
	j := i
	for j < n {
		c := text[j]
		switch {
		case isDigit(c):
			digits++
			if digits >= 4 {
				return 0, false
			}
			j++
			continue
		case (c == ' ' || c == '-' || c == '.') && j+1 < n && isDigit(text[j+1]):
			j++
			continue
		case (c == ' ' || c == '-' || c == '.') && j+1 < n && text[j+1] >= 0x80:
			return 0, false // full-width digits or Chinese numerals may go on
		}
		break
	}
	if j < n && text[j]-'a' < 26 {
		return wordEnd(text, j), true
	}
	if j < n && (text[j] >= 0x80 || isWord(text[j]) || text[j] == '+') {
		return 0, false
	}
	return j, true
}

// inLowerToken reports whether text[i] is inside an alphanumeric token
// that starts with a lower-case letter. The first pass used to skip such
// tokens whole; skipPlain passes their lower-case letters, and a capital,
// an n or a digit inside one must still start nothing.
func inLowerToken(text []byte, i int) bool {
	j := i
	for j > 0 && isWord(text[j-1]) {
		j--
	}
	return j < i && text[j]-'a' < 26
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// skipPlain returns the index of the first byte at or after i that may
// start something: a non-ASCII byte, a byte in '0'..'Z' (digits, ':', '@'
// and capitals), '+', or 'n' before 'a' (of "name"). Lower-case letters, spaces and
// punctuation — most of prose, logs and markup — are skipped eight bytes
// per step with word-wide arithmetic (no byte carries into the next, as
// every addend keeps bytes below 0x100 once the high bits are masked).
func skipPlain(text []byte, i int) int {
	n := len(text)
	for i+8 <= n {
		x := binary.LittleEndian.Uint64(text[i:])
		lo := x &^ highs // each byte's low seven bits
		m := x & highs   // non-ASCII bytes
		// '0' (0x30) ≤ b ≤ 'Z' (0x5A)
		m |= (lo + ones*(0x80-0x30)) &^ (lo + ones*(0x80-0x5B)) & highs
		// b == '+' or b == 'n': t = b^c is zero, so t+0x7F lacks the high bit
		t := lo ^ (ones * '+')
		m |= ^(t + ones*0x7F) & highs
		// b == 'n' followed by 'a' ("name"); an 'n' in the last byte
		// stops too, its next byte being unseen
		t = lo ^ (ones * 'n')
		zn := ^(t + ones*0x7F) & highs
		t = lo ^ (ones * 'a')
		za := ^(t + ones*0x7F) & highs
		m |= zn & (za>>8 | 0x80<<56)
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < n && byteClass[text[i]] == clsNone {
		i++
	}
	return i
}

// isWord reports whether c is a letter, digit or '_': one table load,
// as it runs on every byte of the tokens the first pass passes over.
func isWord(c byte) bool { return wordByte[c] }

var wordByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c-'0' < 10 && c >= '0' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_'
	}
	return t
}()

func isDigit(c byte) bool { return c-'0' < 10 }

func isUpper(c byte) bool { return c-'A' < 26 }

func wordEnd(text []byte, i int) int {
	for i < len(text) && isWord(text[i]) {
		i++
	}
	return i
}

// decode3 decodes the 3-byte UTF-8 sequence at text[i], or returns 0
// for anything else (ASCII, other lengths, invalid or overlong bytes).
func decode3(text []byte, i int) rune {
	if i+2 >= len(text) || text[i]&0xF0 != 0xE0 {
		return 0
	}
	b1, b2 := text[i+1], text[i+2]
	if b1&0xC0 != 0x80 || b2&0xC0 != 0x80 {
		return 0
	}
	r := rune(text[i]&0x0F)<<12 | rune(b1&0x3F)<<6 | rune(b2&0x3F)
	if r < 0x800 || r >= 0xD800 && r <= 0xDFFF {
		return 0
	}
	return r
}

// digitAt returns the ASCII digit written at text[i] — an ASCII digit, a
// full-width digit or a Chinese numeral — and its width in bytes, or
// width 0.
func digitAt(text []byte, i int) (byte, int) {
	c := text[i]
	if c-'0' < 10 {
		return c, 1
	}
	if c < 0xE3 || c > 0xEF {
		return 0, 0
	}
	if c == 0xEF {
		if i+2 < len(text) && text[i+1] == 0xBC && text[i+2]-0x90 < 10 {
			return '0' + text[i+2] - 0x90, 3
		}
		return 0, 0
	}
	if v := cnDigit(decode3(text, i)); v != 0 {
		return v, 3
	}
	return 0, 0
}

// cnDigit maps Chinese numerals used to spell out digits to ASCII.
func cnDigit(r rune) byte {
	switch r {
	case '〇', '零':
		return '0'
	case '一', '壹', '幺':
		return '1'
	case '二', '贰', '两':
		return '2'
	case '三', '叁':
		return '3'
	case '四', '肆':
		return '4'
	case '五', '伍':
		return '5'
	case '六', '陆':
		return '6'
	case '七', '柒':
		return '7'
	case '八', '捌':
		return '8'
	case '九', '玖':
		return '9'
	}
	return 0
}

// sepAt returns the width of a digit-group separator at text[i]: space,
// dash, dot, and their full-width forms; 0 for none.
func sepAt(text []byte, i int) int {
	switch text[i] {
	case ' ', '-', '.':
		return 1
	case 0xEF: // － ．
		if i+2 < len(text) && text[i+1] == 0xBC && (text[i+2] == 0x8D || text[i+2] == 0x8E) {
			return 3
		}
	case 0xE3: // ideographic space
		if i+2 < len(text) && text[i+1] == 0x80 && text[i+2] == 0x80 {
			return 3
		}
	}
	return 0
}

// readRun collects the digit groups of the numeric run at text[p]. It
// returns the number of groups and where the run ends. A group glued to a
// letter ends the run and is dropped (a digit run inside a longer
// alphanumeric token is not a match); glued reports that it happened on
// the first group. A final X or x is kept as a digit (18-digit IDs).
func (d *Detector) readRun(text []byte, p int) (ng, end int, glued bool) {
	n := len(text)
	nd := 0
	for {
		gs, ds, ascii := p, nd, true
		for p < n {
			v, w := digitAt(text, p)
			if w == 0 {
				break
			}
			ascii = w == 1
			if nd < maxDigits {
				d.digits[nd] = v
			}
			nd++
			p += w
		}
		if p == gs {
			return ng, end, false
		}
		if xw := checkX(text, p, ascii); xw > 0 {
			if nd < maxDigits {
				d.digits[nd] = 'X'
			}
			nd++
			p += xw
			if nd <= maxDigits && ng < maxGroups {
				d.groups[ng] = group{gs, p, ds, nd}
				ng++
			}
			return ng, p, false
		}
		if p < n && isWord(text[p]) {
			return ng, wordEnd(text, p), ng == 0
		}
		if nd > maxDigits || ng == maxGroups {
			return ng, p, false
		}
		d.groups[ng] = group{gs, p, ds, nd}
		ng++
		end = p
		if p < n {
			if w := sepAt(text, p); w > 0 && p+w < n {
				if _, dw := digitAt(text, p+w); dw > 0 {
					p += w
					continue
				}
			}
		}
		return ng, end, false
	}
}

// checkX returns the width of a check character X (x, Ｘ, ｘ) ending a
// digit group at text[p], or 0. An ASCII X must follow ASCII digits and
// end the token.
func checkX(text []byte, p int, ascii bool) int {
	n := len(text)
	if p >= n {
		return 0
	}
	if c := text[p]; c == 'X' || c == 'x' {
		if ascii && (p+1 == n || !isWord(text[p+1])) {
			return 1
		}
		return 0
	}
	if !ascii && p+2 < n && text[p] == 0xEF && (text[p+1] == 0xBC && text[p+2] == 0xB8 || text[p+1] == 0xBD && text[p+2] == 0x98) {
		if p+3 == n || !isWord(text[p+3]) {
			return 3
		}
	}
	return 0
}

// numeric handles the numeric run starting at text[i] (at '+' when plus).
func (d *Detector) numeric(dst []Match, text []byte, i int, plus bool) ([]Match, int) {
	p := i
	if plus {
		p++
	}
	if !plus && isDigit(text[i]) {
		if m, end, ok := d.shaped(text, i); ok {
			if m.Type != "" {
				dst = append(dst, m)
			}
			return dst, end
		}
	}
	ng, end, glued := d.readRun(text, p)
	if glued {
		if plus {
			return dst, end
		}
		return d.word(dst, text, p)
	}
	for s := 0; s < ng; {
		best := -1
		var bt custos.DataType
		var bc float64
		first, last := s, ng-1
		if d.size(s) == 1 && !(plus && s == 0) {
			// digits written one by one ("1 3 8 0 …"): the whole run of
			// single digits is the candidate, or nothing is
			if s > 0 && d.size(s-1) == 1 {
				s++
				continue
			}
			for last = s; last+1 < ng && d.size(last+1) == 1; last++ {
			}
			first = last
		}
		for e := first; e <= last; e++ {
			if e > s && !d.groupFits(s, e, plus) {
				break // longer concatenations hold the same misfit
			}
			cnt := d.groups[e].dend - d.groups[s].dstart
			if cnt > 19 {
				break
			}
			if cnt < 8 {
				continue
			}
			t, c := d.classify(text, s, e, plus && s == 0)
			if t != "" {
				best, bt, bc = e, t, c
				if e == s {
					break // a whole unseparated group that validates wins
				}
			}
		}
		if best < 0 {
			if first > s {
				s = last + 1
			} else {
				s++
			}
			continue
		}
		start := d.groups[s].start
		if plus && s == 0 {
			start = i
		}
		if bc >= MinConfidence {
			if bt == custos.TypeCNMobile {
				dst = nameBefore(dst, text, start, kCNMobile)
			} else if bt == custos.TypeCNID {
				dst = nameBefore(dst, text, start, kCNID)
			}
			dst = append(dst, Match{Type: bt, Offset: start, Length: d.groups[best].end - start, Confidence: bc})
		}
		s = best + 1
	}
	return dst, end
}

func (d *Detector) size(k int) int { return d.groups[k].dend - d.groups[k].dstart }

// groupFits reports whether group e may extend a candidate that starts at
// group s. Identifiers are grouped in threes and more (138 0013 8000,
// 6222 0212 …, 110105 19491231 002X); shorter groups are a country code
// or area code first (+86, +1, 21), the middle of an SSN (123-45-6789),
// or digits written one by one (handled by the caller). International
// numbers after '+' are grouped every way (+44 20 7946 0958, +33 1 23 45
// 67 89) and are few. Without this rule a table of small numbers would be
// tried in every combination.
func (d *Detector) groupFits(s, e int, plus bool) bool {
	if plus && s == 0 {
		return true
	}
	switch sz := d.size(e); {
	case sz >= 3:
		return true
	case sz == 2:
		return e == s+1 && d.size(s) == 3 // SSN middle
	case sz == 1:
		return d.size(s) == 1 && d.size(e-1) == 1
	}
	return false
}

// classify judges the digits of groups s..e as one candidate.
func (d *Detector) classify(text []byte, s, e int, plus bool) (custos.DataType, float64) {
	dg := d.digits[d.groups[s].dstart:d.groups[e].dend]
	n := len(dg)
	start := d.groups[s].start
	k := e - s + 1
	if plus {
		if dg[n-1] == 'X' {
			return "", 0
		}
		if n == 13 && dg[0] == '8' && dg[1] == '6' && mobileSegment(dg[2:]) {
			return custos.TypeCNMobile, 0.97
		}
		if cc := countryCode(dg); cc > 0 && n >= 8 && n <= 15 && n-cc >= 6 && !(cc == 2 && dg[0] == '8' && dg[1] == '6' && dg[2] == '1') {
			return adjust(text, start, kIntlPhone, 0.85, false)
		}
		return "", 0
	}
	if dg[n-1] == 'X' {
		if validCNID18(dg) {
			return adjust(text, start, kCNID, 0.97, true)
		}
		if validUSCC(dg) {
			return adjust(text, start, kCNUSCC, 0.97, true)
		}
		return "", 0
	}
	switch n {
	case 18:
		if validCNID18(dg) {
			return adjust(text, start, kCNID, 0.97, true)
		}
		if validUSCC(dg) {
			return adjust(text, start, kCNUSCC, 0.97, true)
		}
		if validRegion(dg) && validDate(atoi(dg[6:10]), atoi(dg[10:12]), atoi(dg[12:14])) {
			return "", 0 // an ID with a wrong check digit, not a card
		}
	case 15:
		if validIMEI(dg) && contextOf(text, start, kIMEI) > 0 {
			return custos.TypeIMEI, 0.97
		}
		if validCNID15(dg) && !inContext(text, start, kBankCard) {
			return adjust(text, start, kCNID, 0.7, false)
		}
		if dg[0] == '0' && dg[1] == '0' && dg[2] == '8' && dg[3] == '6' && mobileSegment(dg[4:]) {
			return adjust(text, start, kCNMobile, 0.9, false)
		}
		if validBankCard(dg) {
			return adjust(text, start, kBankCard, 0.85, false)
		}
		if validIMEI(dg) {
			ctx := contextOf(text, start, kIMEI)
			if ctx > 0 {
				return custos.TypeIMEI, 0.97
			}
			if imeiBody(dg) && ctx == 0 {
				return custos.TypeIMEI, 0.8
			}
		}
		return "", 0
	case 13:
		if dg[0] == '8' && dg[1] == '6' && mobileSegment(dg[2:]) {
			return adjust(text, start, kCNMobile, 0.85, false)
		}
	case 11:
		if mobileSegment(dg) {
			return adjust(text, start, kCNMobile, 0.9, false)
		}
		if landline(dg) {
			return d.landlineConf(text, s, e, start)
		}
		return "", 0
	case 10, 12:
		if landline(dg) {
			return d.landlineConf(text, s, e, start)
		}
		if n == 10 && dg[0] == '0' && dg[1] == '9' && contextOf(text, start, kIntlPhone) > 0 {
			// A Taiwan mobile number in national form (09xx xxx xxx). Ten
			// digits starting with 09 are no mainland number (09xx area
			// codes take 7 or 8 more digits), but nothing else marks them
			// either, so only a phone word reports them (precision over
			// recall, docs/discovery.md); +886 9… is E.164 and found as
			// intl_phone without one.
			return custos.TypeIntlPhone, 0.9
		}
	case 9:
		if !validSSN(dg) {
			return "", 0
		}
		g := d.groups[s : e+1]
		if k == 3 && g[0].end-g[0].start == 3 && g[1].end-g[1].start == 2 && g[2].end-g[2].start == 4 && text[g[0].end] == text[g[1].end] && (text[g[0].end] == '-' || text[g[0].end] == ' ') {
			return adjust(text, start, kUSSSN, 0.8, false)
		}
		if contextOf(text, start, kUSSSN) > 0 {
			return custos.TypeUSSSN, 0.9
		}
		return "", 0
	case 8:
		if k == 1 && contextOf(text, start, kDateOfBirth) > 0 {
			y := atoi(dg[:4])
			if y >= 1900 && y <= 2030 && validDate(y, atoi(dg[4:6]), atoi(dg[6:8])) {
				return custos.TypeDateOfBirth, 0.9
			}
		}
		return "", 0
	}
	if n >= 13 && validBankCard(dg) {
		return adjust(text, start, kBankCard, 0.9, false)
	}
	return "", 0
}

// landlineConf rates a fixed-line candidate: an area code written as its
// own group ("010-12345678") is the usual form.
func (d *Detector) landlineConf(text []byte, s, e, start int) (custos.DataType, float64) {
	c := 0.7
	if e > s && areaCode(d.digits[d.groups[s].dstart:d.groups[s].dend]) {
		c = 0.85
	}
	return adjust(text, start, kCNLandline, c, false)
}

// adjust applies context to a base confidence. Strong candidates (long
// checksums that random numbers pass rarely) keep most of their
// confidence next to a negative word; weak ones fall below MinConfidence.
func adjust(text []byte, start int, t kind, c float64, strong bool) (custos.DataType, float64) {
	switch contextOf(text, start, t) {
	case 1:
		c += (1 - c) * 0.7
	case -1:
		if strong {
			c *= 0.9
		} else {
			c *= 0.5
		}
	}
	return t.t, c
}

// shaped recognizes numbers with an inner shape — IPv4 addresses,
// coordinates, dates — at the ASCII digit text[i]. ok means the bytes up
// to end are consumed (m.Type is empty when they are no personal data,
// such as a date outside a birth-date context).
func (d *Detector) shaped(text []byte, i int) (m Match, end int, ok bool) {
	q := i
	for q < len(text) && isDigit(text[q]) {
		q++
	}
	if q >= len(text) {
		return m, 0, false
	}
	glen := q - i
	switch text[q] {
	case '.':
		if glen <= 3 {
			if e, ok := parseIPv4(text, i); ok {
				_, c := adjust(text, i, kIPv4, 0.9, false)
				if c < MinConfidence {
					return Match{}, e, true
				}
				return Match{Type: custos.TypeIPv4, Offset: i, Length: e - i, Confidence: c}, e, true
			}
			if s, e, ok := parseGeo(text, i); ok {
				_, c := adjust(text, s, kGeoCoord, 0.75, false)
				return Match{Type: custos.TypeGeoCoord, Offset: s, Length: e - s, Confidence: c}, e, true
			}
		}
		if glen == 4 {
			return dateAt(text, i)
		}
	case '-', '/', 0xE5:
		if glen == 4 {
			return dateAt(text, i)
		}
	}
	return m, 0, false
}

// dateAt parses a date written YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or
// YYYY年M月D日 at text[i]. A valid date is consumed; it is a date of
// birth when a birth-date word precedes it on the line.
func dateAt(text []byte, i int) (Match, int, bool) {
	n := len(text)
	if i+5 > n || !allDigits(text[i:i+4]) {
		return Match{}, 0, false
	}
	y := atoi(text[i : i+4])
	if y < 1900 || y > 2099 {
		return Match{}, 0, false
	}
	q := i + 4
	han := false
	sep := text[q]
	if sep == 0xE5 {
		if decode3(text, q) != '年' {
			return Match{}, 0, false
		}
		han = true
		q += 3
	} else {
		q++
	}
	num := func() int {
		v, l := 0, 0
		for q < n && isDigit(text[q]) && l < 3 {
			v = v*10 + int(text[q]-'0')
			q++
			l++
		}
		if l == 0 || l > 2 {
			return -1
		}
		return v
	}
	mo := num()
	if mo < 0 || q >= n {
		return Match{}, 0, false
	}
	if han {
		if decode3(text, q) != '月' {
			return Match{}, 0, false
		}
		q += 3
	} else if text[q] != sep {
		return Match{}, 0, false
	} else {
		q++
	}
	day := num()
	if day < 0 || !validDate(y, mo, day) {
		return Match{}, 0, false
	}
	if han && decode3(text, q) == '日' {
		q += 3
	}
	if q < n && (isDigit(text[q]) || sep == '.' && q+1 < n && text[q] == '.' && isDigit(text[q+1])) {
		return Match{}, 0, false
	}
	if contextOf(text, i, kDateOfBirth) > 0 && (q == n || !isWord(text[q])) {
		return Match{Type: custos.TypeDateOfBirth, Offset: i, Length: q - i, Confidence: 0.9}, q, true
	}
	return Match{}, q, true
}

// parseIPv4 parses a dotted quad at text[i] with word boundaries.
func parseIPv4(text []byte, i int) (int, bool) {
	if i > 0 && text[i-1] == '.' {
		return 0, false
	}
	n := len(text)
	q := i
	for part := 0; part < 4; part++ {
		st, v := q, 0
		for q < n && isDigit(text[q]) && q-st < 4 {
			v = v*10 + int(text[q]-'0')
			q++
		}
		l := q - st
		if l == 0 || l > 3 || v > 255 || l > 1 && text[st] == '0' {
			return 0, false
		}
		if part < 3 {
			if q >= n || text[q] != '.' {
				return 0, false
			}
			q++
		}
	}
	if q < n && isWord(text[q]) || q+1 < n && text[q] == '.' && isDigit(text[q+1]) {
		return 0, false
	}
	return q, true
}

// parseGeo parses a latitude/longitude pair ("39.9042, 116.4074"): two
// decimals with at least four fraction digits, one within ±90 and both
// within ±180. It returns the span including a leading minus sign.
func parseGeo(text []byte, i int) (start, end int, ok bool) {
	n := len(text)
	dec := func(q int) (int, int, bool) { // integer part, end
		st, v := q, 0
		for q < n && isDigit(text[q]) && q-st < 4 {
			v = v*10 + int(text[q]-'0')
			q++
		}
		if q == st || q-st > 3 || q >= n || text[q] != '.' {
			return 0, 0, false
		}
		q++
		fs := q
		for q < n && isDigit(text[q]) {
			q++
		}
		if q-fs < 4 || q-fs > 15 {
			return 0, 0, false
		}
		return v, q, true
	}
	start = i
	if i > 0 && text[i-1] == '-' {
		start = i - 1
	}
	a, q, ok := dec(i)
	if !ok {
		return 0, 0, false
	}
	switch {
	case q+1 < n && text[q] == ',' && text[q+1] == ' ':
		q += 2
	case q < n && (text[q] == ',' || text[q] == ' '):
		q++
	case q+2 < n && text[q] == 0xEF && text[q+1] == 0xBC && text[q+2] == 0x8C: // ，
		q += 3
	default:
		return 0, 0, false
	}
	if q < n && text[q] == '-' {
		q++
	}
	if q >= n || !isDigit(text[q]) {
		return 0, 0, false
	}
	b, e, ok := dec(q)
	if !ok || a > 180 || b > 180 || a > 90 && b > 90 {
		return 0, 0, false
	}
	if e < n && (isWord(text[e]) || text[e] == '.') {
		return 0, 0, false
	}
	return start, e, true
}
