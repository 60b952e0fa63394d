package pii

// Check-digit and structure validators. Each takes the normalized form
// (ASCII, separators removed, letters upper-cased) and never allocates.

// cnIDWeights are the GB 11643 weights of the first 17 digits.
var cnIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// cnIDCheck maps the weighted sum mod 11 to the check character.
const cnIDCheck = "10X98765432"

// validCNID18 reports whether d is an 18-character resident ID with a
// known region prefix, a real birth date and a correct check character.
func validCNID18(d []byte) bool {
	if len(d) != 18 || !allDigits(d[:14]) || !regionOK[atoi(d[:4])] {
		return false // the cheap tests first: most candidates fail here
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * cnIDWeights[i]
	}
	if d[17] != cnIDCheck[sum%11] {
		return false
	}
	if !validRegion(d[:6]) {
		return false
	}
	y := atoi(d[6:10])
	return y >= 1900 && y <= 2030 && validDate(y, atoi(d[10:12]), atoi(d[12:14]))
}

// validCNID15 reports whether d is a legacy 15-digit resident ID (issued
// before 1999): region prefix and a birth date 19YYMMDD, no check digit.
func validCNID15(d []byte) bool {
	if len(d) != 15 || !allDigits(d) || !validRegion(d[:6]) {
		return false
	}
	return validDate(1900+atoi(d[6:8]), atoi(d[8:10]), atoi(d[10:12]))
}

func validDate(y, m, day int) bool {
	if m < 1 || m > 12 || day < 1 {
		return false
	}
	dim := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && (y%4 == 0 && y%100 != 0 || y%400 == 0) {
		dim = 29
	}
	return day <= dim
}

// luhn reports whether the digit string d passes the Luhn check.
func luhn(d []byte) bool {
	sum, dbl := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if v < 0 || v > 9 {
			return false
		}
		if dbl {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		dbl = !dbl
	}
	return sum%10 == 0
}

// cardIssuer reports whether d has the prefix and length of a card scheme
// that issues in or to China: UnionPay, Visa, Mastercard, American
// Express, JCB, Discover, Diners Club and Maestro.
func cardIssuer(d []byte) bool {
	n := len(d)
	if n < 13 || n > 19 {
		return false
	}
	p2 := atoi(d[:2])
	p3 := atoi(d[:3])
	p4 := atoi(d[:4])
	switch {
	case p2 == 62 || p2 == 81: // UnionPay
		return n >= 16
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65: // Discover
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36: // Diners
		return n >= 14 && n <= 16
	}
	return false
}

// validBankCard: issuer range, length and Luhn.
func validBankCard(d []byte) bool { return allDigits(d) && cardIssuer(d) && luhn(d) }

// imeiBodies are the GSMA reporting-body prefixes in current use; a
// 15-digit Luhn number with another prefix is an IMEI only in context.
func imeiBody(d []byte) bool {
	switch atoi(d[:2]) {
	case 1, 35, 86, 99:
		return true
	}
	return false
}

// validIMEI: 15 digits with the Luhn check (the body prefix is judged by
// the caller, which knows the context).
func validIMEI(d []byte) bool { return len(d) == 15 && allDigits(d) && luhn(d) }

// usccAlphabet is the GB 32100 character set (no I, O, Z, S, V).
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

func usccValue(c byte) int {
	if c >= '0' && c <= '9' {
		return int(c - '0')
	}
	if c >= 'A' && c <= 'Y' {
		return usccLetter[c-'A']
	}
	return -1
}

// usccLetter maps A..Y to GB 32100 values, -1 for the excluded letters.
var usccLetter = [25]int{10, 11, 12, 13, 14, 15, 16, 17, -1, 18, 19, 20, 21, 22, -1, 23, 24, 25, -1, 26, 27, -1, 28, 29, 30}

// validUSCC reports whether d is an 18-character unified social credit
// code: GB 32100 alphabet and check character, a numeric region code, and
// the embedded 9-character organization code with its GB 11714 check.
func validUSCC(d []byte) bool {
	if len(d) != 18 || !allDigits(d[2:8]) || !regionOK[atoi(d[2:6])] {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := usccValue(d[i])
		if v < 0 {
			return false
		}
		sum += v * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	if usccValue(d[17]) != c {
		return false
	}
	if !validRegion(d[2:8]) {
		return false
	}
	// registration authority and organization type (GB 32100 table 1)
	switch d[0] {
	case '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'N', 'Y':
	default:
		return false
	}
	switch d[1] {
	case '1', '2', '3', '4', '5', '9':
	default:
		return false
	}
	return validOrgCode(d[8:17])
}

var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// validOrgCode checks a 9-character GB 11714 organization code (8 body
// characters, digits or upper-case letters, and a check digit or X).
func validOrgCode(d []byte) bool {
	sum := 0
	for i := 0; i < 8; i++ {
		c := d[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		default:
			return false
		}
		sum += v * orgWeights[i]
	}
	c := 11 - sum%11
	var want byte
	switch c {
	case 10:
		want = 'X'
	case 11:
		want = '0'
	default:
		want = byte('0' + c)
	}
	return d[8] == want
}

// validHKID checks a Hong Kong identity card number: one or two letters,
// six digits and a check digit or A (parentheses already removed).
func validHKID(d []byte) bool {
	n := len(d)
	if n != 8 && n != 9 {
		return false
	}
	letters := n - 7
	sum := 0
	w := 9
	if letters == 1 {
		sum += 36 * w // a single-letter number is weighed as if led by a space
		w--
	}
	for i := 0; i < letters; i++ {
		c := d[i]
		if c < 'A' || c > 'Z' {
			return false
		}
		sum += (int(c-'A') + 10) * w
		w--
	}
	for i := letters; i < letters+6; i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * w
		w--
	}
	var v int
	switch c := d[n-1]; {
	case c >= '0' && c <= '9':
		v = int(c - '0')
	case c == 'A':
		v = 10
	default:
		return false
	}
	return (sum+v)%11 == 0
}

// twLetter maps A..Z to the two-digit codes of the Taiwan ID system.
var twLetter = [26]int{10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32, 30, 31, 33}

// validTWID checks a Taiwan national ID (letter, 1 or 2, 8 digits incl.
// check) and the new-style resident certificate number (8 or 9 second).
func validTWID(d []byte) bool {
	if len(d) != 10 || d[0] < 'A' || d[0] > 'Z' || !allDigits(d[1:]) {
		return false
	}
	switch d[1] {
	case '1', '2', '8', '9':
	default:
		return false
	}
	code := twLetter[d[0]-'A']
	sum := code/10 + (code%10)*9
	for i := 1; i < 9; i++ {
		sum += int(d[i]-'0') * (9 - i)
	}
	sum += int(d[9] - '0')
	return sum%10 == 0
}

// ibanLengths is the registered IBAN length per country (SWIFT registry).
var ibanLengths = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'T'}: 20, {'B', 'E'}: 16, {'B', 'G'}: 22,
	{'B', 'H'}: 22, {'B', 'R'}: 29, {'C', 'H'}: 21, {'C', 'Y'}: 28, {'C', 'Z'}: 24,
	{'D', 'E'}: 22, {'D', 'K'}: 18, {'E', 'E'}: 20, {'E', 'S'}: 24, {'F', 'I'}: 18,
	{'F', 'R'}: 27, {'G', 'B'}: 22, {'G', 'R'}: 27, {'H', 'R'}: 21, {'H', 'U'}: 28,
	{'I', 'E'}: 22, {'I', 'L'}: 23, {'I', 'S'}: 26, {'I', 'T'}: 27, {'K', 'W'}: 30,
	{'K', 'Z'}: 20, {'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20, {'L', 'V'}: 21,
	{'M', 'C'}: 27, {'M', 'T'}: 31, {'N', 'L'}: 18, {'N', 'O'}: 15, {'P', 'K'}: 24,
	{'P', 'L'}: 28, {'P', 'T'}: 25, {'Q', 'A'}: 29, {'R', 'O'}: 24, {'R', 'S'}: 22,
	{'S', 'A'}: 24, {'S', 'E'}: 24, {'S', 'I'}: 19, {'S', 'K'}: 24, {'T', 'R'}: 26,
	{'U', 'A'}: 29, {'V', 'G'}: 24, {'M', 'U'}: 30, {'J', 'O'}: 30, {'L', 'B'}: 28,
}

// validIBAN checks the country length and the ISO 13616 mod-97 check.
func validIBAN(d []byte) bool {
	n := len(d)
	if n < 15 || n > 34 {
		return false
	}
	want, ok := ibanLengths[[2]byte{d[0], d[1]}]
	if !ok || want != n || d[2] < '0' || d[2] > '9' || d[3] < '0' || d[3] > '9' {
		return false
	}
	rem := 0
	for k := 0; k < n; k++ {
		c := d[(k+4)%n]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// validSSN excludes the never-issued ranges: area 000, 666 and 900-999,
// group 00, serial 0000.
func validSSN(d []byte) bool {
	if len(d) != 9 || !allDigits(d) {
		return false
	}
	area, group, serial := atoi(d[:3]), atoi(d[3:5]), atoi(d[5:])
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

func allDigits(d []byte) bool {
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(d) > 0
}

// atoi parses a short ASCII digit string; callers check digits first.
func atoi(d []byte) int {
	v := 0
	for _, c := range d {
		v = v*10 + int(c-'0')
	}
	return v
}
