package scan

import (
	"strconv"
	"unicode/utf8"
)

// appendFileJSON appends the JSON form of a file finding, byte for byte
// what encoding/json makes of fileJSON, without reflection: on dense
// inputs encoding is most of the cost of a scan.
func appendFileJSON(b []byte, f Finding) []byte {
	b = append(b, `{"path":`...)
	b = appendJSONString(b, f.Path)
	return appendFileJSONRest(b, f)
}

// appendFileJSONRest appends what follows the path.
func appendFileJSONRest(b []byte, f Finding) []byte {
	if f.Location != "" {
		b = append(b, `,"location":`...)
		b = appendJSONString(b, f.Location)
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, f.Offset, 10)
	b = append(b, `,"length":`...)
	b = strconv.AppendInt(b, int64(f.Length), 10)
	if f.Encoding != "" {
		b = append(b, `,"encoding":`...)
		b = appendJSONString(b, f.Encoding)
	}
	b = append(b, `,"type":`...)
	b = appendJSONString(b, f.Type)
	b = append(b, `,"category":`...)
	b = appendJSONString(b, f.Category)
	b = append(b, `,"level":`...)
	b = appendJSONString(b, f.Level())
	b = append(b, `,"confidence":`...)
	b = strconv.AppendFloat(b, round3(f.Confidence), 'f', -1, 64)
	b = append(b, `,"value":`...)
	b = appendJSONString(b, f.Value)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does: HTML-significant
// characters, control characters and U+2028/2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
