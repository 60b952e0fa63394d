package pii

import "github.com/custos-dev/custos"

func isLocal(c byte) bool {
	return isWord(c) || c == '.' || c == '%' || c == '+' || c == '-'
}

func isDomain(c byte) bool { return c-'0' < 10 || c|0x20-'a' < 26 || c == '-' || c == '.' }

func isHex(c byte) bool { return c-'0' < 10 || c|0x20-'a' < 6 }

// popOverlap removes matches found since base that end after start: an
// e-mail or IPv6 address found at its '@' or ':' replaces what was
// matched inside its first part.
func popOverlap(dst []Match, base, start int) []Match {
	for len(dst) > base && dst[len(dst)-1].Offset+dst[len(dst)-1].Length > start {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// emailAt recognizes an e-mail address around the '@' at text[at].
func emailAt(dst []Match, base int, text []byte, at int) ([]Match, int) {
	n := len(text)
	ls := at
	for ls > 0 && at-ls < 64 && isLocal(text[ls-1]) {
		ls--
	}
	for ls < at && (text[ls] == '.' || text[ls] == '-' || text[ls] == '+') {
		ls++
	}
	for j := ls + 1; j < at; j++ {
		if text[j] == '.' && text[j-1] == '.' {
			ls = j + 1
		}
	}
	if ls == at || text[at-1] == '.' {
		return dst, at + 1
	}
	q := at + 1
	for q < n && q-at < 254 && isDomain(text[q]) {
		q++
	}
	for q > at+1 && (text[q-1] == '.' || text[q-1] == '-') {
		q--
	}
	// the last label is the TLD: letters only, at least two
	dot := -1
	for j := q - 1; j > at; j-- {
		if text[j] == '.' {
			dot = j
			break
		}
	}
	if dot < 0 || dot == at+1 || q-dot-1 < 2 || q < n && (text[q] == '@' || text[q] == '_') {
		return dst, at + 1
	}
	for j := dot + 1; j < q; j++ {
		if text[j]|0x20-'a' >= 26 {
			return dst, at + 1
		}
	}
	for j := at + 1; j < q; j++ {
		if text[j] == '.' && (text[j-1] == '.' || text[j-1] == '@') {
			return dst, at + 1
		}
	}
	dst = popOverlap(dst, base, ls)
	return append(dst, Match{Type: custos.TypeEmail, Offset: ls, Length: q - ls, Confidence: 0.95}), q
}

// ipv6At recognizes an IPv6 address around its first ':' at text[c].
func ipv6At(dst []Match, base int, text []byte, c int) ([]Match, int) {
	n := len(text)
	s := c
	for s > 0 && c-s < 4 && isHex(text[s-1]) {
		s--
	}
	if s > 0 && (isWord(text[s-1]) || text[s-1] == ':' || text[s-1] == '.') {
		return dst, c + 1
	}
	e := c
	for e < n && e-s < 46 && (isHex(text[e]) || text[e] == ':' || text[e] == '.') {
		e++
	}
	for e > c && text[e-1] == '.' {
		e--
	}
	if e < n && isWord(text[e]) || !validIPv6(text[s:e]) {
		return dst, c + 1
	}
	dst = popOverlap(dst, base, s)
	return append(dst, Match{Type: custos.TypeIPv6, Offset: s, Length: e - s, Confidence: 0.9}), e
}

// validIPv6 parses the textual forms of RFC 4291 (with at most one "::"
// and an optional trailing dotted quad). It rejects "::" alone and
// compressed forms with fewer than two groups, which are mostly code
// ("a::b") or loopback.
func validIPv6(b []byte) bool {
	n := len(b)
	if n < 3 {
		return false
	}
	groups, nonEmpty, compressed := 0, 0, false
	i := 0
	if b[0] == ':' {
		if b[1] != ':' {
			return false
		}
		compressed = true
		i = 2
	}
	for i < n {
		st := i
		for i < n && isHex(b[i]) && i-st < 5 {
			i++
		}
		if i < n && b[i] == '.' { // trailing IPv4
			e, ok := parseIPv4(b, st)
			if !ok || e != n {
				return false
			}
			groups += 2
			nonEmpty += 2
			i = n
			break
		}
		l := i - st
		if l == 0 || l > 4 {
			return false
		}
		groups++
		nonEmpty++
		if i == n {
			break
		}
		if b[i] != ':' {
			return false
		}
		i++
		if i < n && b[i] == ':' {
			if compressed {
				return false
			}
			compressed = true
			i++
			if i == n {
				break
			}
		} else if i == n {
			return false
		}
	}
	if compressed {
		return groups < 8 && nonEmpty >= 2
	}
	return groups == 8
}
