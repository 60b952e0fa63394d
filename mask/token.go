package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"unicode"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

// MinKeyLen is the shortest key NewTokenizer accepts.
const MinKeyLen = 16

// Tokenizer makes keyed deterministic tokens: the same key, type and value
// always give the same token, so tokenized columns can still be joined,
// grouped and counted, while nobody without the key can tell which value a
// token stands for (short of trying every candidate with the key).
//
// Use a key of its own, not the blind-index key: tokens are shown to
// applications and people, blind-index hashes never leave Custos.
type Tokenizer struct {
	key []byte
}

// NewTokenizer returns a Tokenizer for key, which must be at least
// MinKeyLen bytes.
func NewTokenizer(key []byte) (*Tokenizer, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("mask: token key shorter than 16 bytes")
	}
	return &Tokenizer{key: append([]byte(nil), key...)}, nil
}

// seed is HMAC-SHA256(key, domain ‖ 0 ‖ type ‖ 0 ‖ normalized value). Values
// that fail normalization (not a valid mobile, say) are tokenized as they
// came, trimmed, so that a token is always produced and still deterministic.
func (tk *Tokenizer) seed(domain string, t custos.DataType, v string) []byte {
	n, err := pii.Normalize(t, v)
	if err != nil {
		n = strings.TrimSpace(v)
	}
	m := hmac.New(sha256.New, tk.key)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(t))
	m.Write([]byte{0})
	m.Write([]byte(n))
	return m.Sum(nil)
}

// Token returns "tok_" and 32 hex digits (128 bits of HMAC-SHA256). It keeps
// nothing of the value's form; use FormatToken where an application needs
// a value that looks like its type.
func (tk *Tokenizer) Token(t custos.DataType, v string) string {
	return "tok_" + hex.EncodeToString(tk.seed("token", t, v)[:16])
}

// FormatToken returns a token with the value's length and character
// classes: every ASCII digit becomes a digit, every ASCII letter a letter of
// the same case, every Han character a Han character (U+4E00–U+9FA5);
// separators and other characters stay where they are. Per type it also
// keeps what applications check:
//
//	cn_mobile  a country code (86, 0086) and the number's leading 1
//	cn_id      a valid ISO 7064 check character when 18 long
//	bank_card  a valid Luhn check digit
//	email      the domain
//
// Digits are drawn from the value's normalized form, so "138 1234 5678"
// and "13812345678" give the same digits in their own layout. The token
// space is smaller than the hex Token's (10^10 for a mobile), so two values
// can, rarely, share a format token; join on Token where that matters.
func (tk *Tokenizer) FormatToken(t custos.DataType, v string) string {
	if v == "" {
		return ""
	}
	st := stream{key: tk.key, block: tk.seed("format", t, v)}
	domain := ""
	if t == custos.TypeEmail {
		if at := strings.LastIndexByte(v, '@'); at > 0 {
			v, domain = v[:at], v[at:]
		}
	}
	out := make([]rune, 0, len(v))
	// A mobile keeps its country code (86 or 0086, nobody's secret) and
	// the number's leading 1, so +86 138… still looks Chinese and draws
	// the same digits as 138… alone.
	keep, digit := 0, 0
	if t == custos.TypeCNMobile {
		keep = countryCodeDigits(v)
	}
	for _, r := range v {
		switch {
		case '0' <= r && r <= '9', t == custos.TypeCNID && (r == 'X' || r == 'x'):
			if digit < keep || digit == keep && t == custos.TypeCNMobile && r == '1' {
				out = append(out, r)
			} else {
				out = append(out, rune('0'+st.below(10)))
			}
			digit++
		case 'a' <= r && r <= 'z':
			out = append(out, rune('a'+st.below(26)))
		case 'A' <= r && r <= 'Z':
			out = append(out, rune('A'+st.below(26)))
		case unicode.Is(unicode.Han, r):
			out = append(out, rune(0x4E00+st.below(0x9FA5-0x4E00+1)))
		default:
			out = append(out, r)
		}
	}
	switch t {
	case custos.TypeCNID:
		fixCNIDCheck(out)
	case custos.TypeBankCard:
		fixLuhn(out)
	}
	return string(out) + domain
}

// stream expands an HMAC seed into as many uniform small numbers as a
// token needs: block i+1 = HMAC(key, block i ‖ i).
type stream struct {
	key   []byte
	block []byte
	pos   int
	n     uint32
}

func (s *stream) byte() byte {
	if s.pos == len(s.block) {
		m := hmac.New(sha256.New, s.key)
		m.Write(s.block)
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], s.n)
		m.Write(c[:])
		s.block, s.pos = m.Sum(nil), 0
		s.n++
	}
	b := s.block[s.pos]
	s.pos++
	return b
}

// below returns a uniform number in [0, n) for n ≤ 65536, by rejection so
// that no digit or letter is more likely than another.
func (s *stream) below(n int) int {
	limit := 65536 - 65536%n
	for {
		x := int(s.byte())<<8 | int(s.byte())
		if x < limit {
			return x % n
		}
	}
}

// digitPositions returns the indexes of ASCII digits (and a final X) in rs.
func digitPositions(rs []rune) []int {
	var idx []int
	for i, r := range rs {
		if '0' <= r && r <= '9' || r == 'X' || r == 'x' {
			idx = append(idx, i)
		}
	}
	return idx
}

var cnIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const cnIDCheck = "10X98765432"

// fixCNIDCheck sets the 18th character of an ID token to the ISO 7064
// MOD 11-2 check character of the first 17, so that validators accept it.
func fixCNIDCheck(rs []rune) {
	idx := digitPositions(rs)
	if len(idx) != 18 {
		return
	}
	sum := 0
	for i := 0; i < 17; i++ {
		r := rs[idx[i]]
		if r < '0' || r > '9' {
			// A letter drawn for a position that held X mid-value:
			// leave the token as drawn, it was not a valid ID either.
			return
		}
		sum += int(r-'0') * cnIDWeights[i]
	}
	rs[idx[17]] = rune(cnIDCheck[sum%11])
}

// fixLuhn sets the last digit so that the digit string passes Luhn.
func fixLuhn(rs []rune) {
	var idx []int
	for i, r := range rs {
		if '0' <= r && r <= '9' {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return
	}
	sum := 0
	for k := len(idx) - 2; k >= 0; k-- {
		d := int(rs[idx[k]] - '0')
		if (len(idx)-2-k)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	rs[idx[len(idx)-1]] = rune('0' + (10-sum%10)%10)
}
