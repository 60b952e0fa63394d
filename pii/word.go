package pii

import "github.com/custos-dev/custos"

// word handles the alphanumeric token starting at text[i]: document
// numbers with letters (passports, permits, HKID, Taiwan ID, USCC, IBAN),
// PNRs in context, and "name:" before a Chinese name. Everything else —
// most English words, hashes, order and tracking numbers — is skipped as
// a whole, so digits inside it are never matched.
func (d *Detector) word(dst []Match, text []byte, i int) ([]Match, int) {
	e := wordEnd(text, i)
	L := e - i
	c0 := text[i]
	glued := i > 0 && isWord(text[i-1])
	if L == 4 && !glued && lower(c0) == 'n' && lower(text[i+1]) == 'a' && lower(text[i+2]) == 'm' && lower(text[i+3]) == 'e' {
		return d.nameAfter(dst, text, e, e)
	}
	if !isUpper(c0) && !isDigit(c0) {
		return dst, e
	}
	if glued {
		return dst, e
	}
	tok := text[i:e]
	var t custos.DataType
	var c float64
	end := e
	switch L {
	case 4:
		if isUpper(tok[1]) && isDigit(tok[2]) && isDigit(tok[3]) {
			return d.ibanGrouped(dst, text, i, e)
		}
	case 6:
		if upperAlnum(tok) && hasUpper(tok) && labelledBy(text, i, kFlightPNR) {
			t, c = custos.TypeFlightPNR, 0.85
		}
	case 7, 8:
		if e+2 < len(text) && text[e] == '(' && text[e+2] == ')' {
			k := copy(d.alnum[:], tok)
			d.alnum[k] = text[e+1]
			if validHKID(d.alnum[:k+1]) {
				t, c = custos.TypeHKID, 0.9
				end = e + 3
				break
			}
		}
		if L == 8 && validHKID(tok) {
			t, c = custos.TypeHKID, 0.75
		}
	case 9:
		switch {
		case passport(tok):
			t, c = custos.TypeCNPassport, 0.75
		case permit(tok):
			t, c = custos.TypeHKMOPermit, 0.7
		case validHKID(tok):
			t, c = custos.TypeHKID, 0.75
		}
	case 10:
		if validTWID(tok) {
			t, c = custos.TypeTWID, 0.85
		}
	case 11:
		if (c0 == 'H' || c0 == 'M') && allDigits(tok[1:]) {
			t, c = custos.TypeHKMOPermit, 0.7
		}
	case 18:
		if validUSCC(tok) {
			t, c = custos.TypeCNUSCC, 0.97
		}
	}
	if t == "" && L >= 15 && L <= 34 && isUpper(c0) && validIBAN(tok) {
		t, c = custos.TypeIBAN, 0.97
	}
	if t == "" {
		return dst, e
	}
	if t != custos.TypeFlightPNR {
		_, c = adjust(text, i, kindOf(t), c, c >= 0.95)
	}
	if c >= MinConfidence {
		dst = append(dst, Match{Type: t, Offset: i, Length: end - i, Confidence: c})
	}
	return dst, end
}

func upperAlnum(b []byte) bool {
	for _, c := range b {
		if !isUpper(c) && !isDigit(c) {
			return false
		}
	}
	return true
}

// hasUpper: a PNR of six capitals is common, but six digits is a number,
// not a record locator.
func hasUpper(b []byte) bool {
	for _, c := range b {
		if isUpper(c) {
			return true
		}
	}
	return false
}

// passport: ordinary passports E + 8 digits or E + letter (not I, O) + 7
// digits; older G + 8 digits; diplomatic/service/public D, S, P + 8.
func passport(t []byte) bool {
	switch t[0] {
	case 'E':
		if allDigits(t[1:]) {
			return true
		}
		return isUpper(t[1]) && t[1] != 'I' && t[1] != 'O' && allDigits(t[2:])
	case 'G', 'D', 'S', 'P':
		return allDigits(t[1:])
	}
	return false
}

// permit: 往来港澳通行证 C + 8 digits or C + letter + 7 digits; 港澳居民来往
// 内地通行证 (回乡证) H/M + 8 digits (the 11-character form is in word).
func permit(t []byte) bool {
	switch t[0] {
	case 'C':
		if allDigits(t[1:]) {
			return true
		}
		return isUpper(t[1]) && t[1] != 'I' && t[1] != 'O' && allDigits(t[2:])
	case 'H', 'M':
		return allDigits(t[1:])
	}
	return false
}

// ibanGrouped reads an IBAN written in groups of four ("GB82 WEST 1234
// 5698 7654 32") starting with the token text[i:e], trying the longest
// run of groups first.
func (d *Detector) ibanGrouped(dst []Match, text []byte, i, e int) ([]Match, int) {
	var ends [9]int
	var lens [9]int
	k := copy(d.alnum[:], text[i:e])
	ng := 0
	ends[ng], lens[ng] = e, k
	ng++
	p := e
	for ng < len(ends) && p+1 < len(text) && text[p] == ' ' && isWord(text[p+1]) {
		q := wordEnd(text, p+1)
		if q-p-1 > 4 || k+q-p-1 > 34 || !upperAlnum(text[p+1:q]) {
			break
		}
		k += copy(d.alnum[k:], text[p+1:q])
		ends[ng], lens[ng] = q, k
		ng++
		p = q
	}
	for g := ng - 1; g >= 1; g-- {
		if validIBAN(d.alnum[:lens[g]]) {
			_, c := adjust(text, i, kIBAN, 0.97, true)
			return append(dst, Match{Type: custos.TypeIBAN, Offset: i, Length: ends[g] - i, Confidence: c}), ends[g]
		}
	}
	return dst, e
}
