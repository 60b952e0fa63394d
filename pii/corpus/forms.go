package corpus

import "strings"

// Written forms of digit strings, including the evasions insiders use to
// slip identifiers past DLP.

var cnNumerals = []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}

// fullWidth writes ASCII digits and letters as their full-width forms.
func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r - '0' + '０')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// chinese writes digits as Chinese numerals (一三八…).
func chinese(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteString(cnNumerals[r-'0'])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// grouped splits s into groups of the given sizes joined by sep; the
// last group takes the rest.
func grouped(s, sep string, sizes ...int) string {
	var parts []string
	for _, n := range sizes {
		if n >= len(s) {
			break
		}
		parts = append(parts, s[:n])
		s = s[n:]
	}
	parts = append(parts, s)
	return strings.Join(parts, sep)
}

// spaced writes every digit apart: "1 3 8 0 …".
func spaced(s string) string { return strings.Join(strings.Split(s, ""), " ") }

// mobileForm writes a mobile number in one of its common or evasive forms.
func (g *Generator) mobileForm(m string) string {
	switch g.r.IntN(12) {
	case 0:
		return grouped(m, " ", 3, 4)
	case 1:
		return grouped(m, "-", 3, 4)
	case 2:
		return "+86 " + m
	case 3:
		return "+86-" + grouped(m, "-", 3, 4)
	case 4:
		return fullWidth(m)
	case 5:
		return chinese(m)
	case 6:
		return spaced(m)
	case 7:
		return "0086" + m
	case 8:
		return grouped(m, ".", 3, 4)
	default:
		return m
	}
}

func (g *Generator) idForm(id string) string {
	switch g.r.IntN(10) {
	case 0:
		return grouped(id, " ", 6, 8)
	case 1:
		return fullWidth(id)
	case 2:
		return strings.ToLower(id)
	case 3:
		return grouped(id, "-", 6, 4, 4)
	default:
		return id
	}
}

func (g *Generator) cardForm(c string) string {
	switch g.r.IntN(6) {
	case 0:
		return grouped(c, " ", 4, 4, 4, 4)
	case 1:
		return grouped(c, "-", 4, 4, 4, 4)
	case 2:
		return fullWidth(c)
	default:
		return c
	}
}
