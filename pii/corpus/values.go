package corpus

import (
	"fmt"
	"strings"
)

// Value generators. Each returns a valid synthetic identifier in its
// plain form; forms.go writes it the way a document or an insider would.

var idRegions = []string{"110101", "110105", "120103", "130102", "140105", "210102", "220104", "230103",
	"310104", "310115", "320102", "320508", "330106", "340104", "350203", "360102", "370212", "410105",
	"420106", "430104", "440305", "440106", "450103", "500103", "510107", "520102", "530102", "610113",
	"620102", "640104", "650102", "132101", "352601"}

var idWeights = []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

func (g *Generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

func (g *Generator) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *Generator) birth() (y, m, d int) {
	y = 1940 + g.r.IntN(70)
	m = 1 + g.r.IntN(12)
	d = 1 + g.r.IntN(28)
	return
}

func idCheck(body string) byte {
	s := 0
	for i := 0; i < 17; i++ {
		s += int(body[i]-'0') * idWeights[i]
	}
	return "10X98765432"[s%11]
}

// cnID returns an 18-digit resident ID with a correct check character.
func (g *Generator) cnID() string {
	y, m, d := g.birth()
	body := fmt.Sprintf("%s%04d%02d%02d%s", g.pick(idRegions), y, m, d, g.digits(3))
	return body + string(idCheck(body))
}

// cnID15 returns a legacy 15-digit ID (born 1940-1984).
func (g *Generator) cnID15() string {
	y, m, d := g.birth()
	return fmt.Sprintf("%s%02d%02d%02d%s", g.pick(idRegions), y%100, m, d, g.digits(3))
}

// badCNID is an ID-shaped number whose check character is wrong.
func (g *Generator) badCNID() string {
	id := g.cnID()
	c := id[17]
	for c == id[17] {
		c = "0123456789X"[g.r.IntN(11)]
	}
	return id[:17] + string(c)
}

var mobilePrefixes = []string{"130", "131", "132", "133", "135", "136", "137", "138", "139", "145", "147",
	"150", "151", "152", "153", "155", "156", "157", "158", "159", "162", "165", "166", "167", "170", "171",
	"173", "175", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189", "190",
	"191", "192", "193", "195", "196", "197", "198", "199"}

func (g *Generator) mobile() string { return g.pick(mobilePrefixes) + g.digits(8) }

// badMobile is 11 digits starting with 1 in an unassigned or IoT segment.
func (g *Generator) badMobile() string {
	return g.pick([]string{"100", "110", "120", "121", "127", "140", "141", "144", "146", "148", "154", "172", "174", "194"}) + g.digits(8)
}

func luhnDigit(body string) byte {
	s := 0
	dbl := true
	for i := len(body) - 1; i >= 0; i-- {
		v := int(body[i] - '0')
		if dbl {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		s += v
		dbl = !dbl
	}
	return byte('0' + (10-s%10)%10)
}

var cardPrefixes = []struct {
	p string
	n int
}{{"622202", 19}, {"621700", 19}, {"622848", 19}, {"622588", 16}, {"628888", 16}, {"625809", 16},
	{"4", 16}, {"4", 16}, {"51", 16}, {"55", 16}, {"2223", 16}, {"37", 15}, {"3566", 16}, {"6011", 16}}

// card returns a bank card number of a real scheme with a Luhn digit.
func (g *Generator) card() string {
	c := cardPrefixes[g.r.IntN(len(cardPrefixes))]
	body := c.p + g.digits(c.n-1-len(c.p))
	return body + string(luhnDigit(body))
}

// badCard is card-shaped (62 prefix, 16 or 19 digits) but fails Luhn.
func (g *Generator) badCard() string {
	c := g.card()
	last := c[len(c)-1]
	return c[:len(c)-1] + string('0'+(last-'0'+1+byte(g.r.IntN(8)))%10)
}

func (g *Generator) imei() string {
	body := g.pick([]string{"35", "86", "01", "99"}) + g.digits(12)
	return body + string(luhnDigit(body))
}

const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccW = []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// uscc returns a unified social credit code with both check characters.
func (g *Generator) uscc() string {
	var b strings.Builder
	b.WriteString(g.pick([]string{"91", "92", "93", "11", "12", "51", "52", "Y1"}))
	b.WriteString(g.pick(idRegions))
	org := make([]byte, 8)
	ow := []int{3, 7, 9, 10, 5, 8, 4, 2}
	s := 0
	for i := range org {
		if i < 2 && g.r.IntN(3) == 0 {
			org[i] = "ABCDEFGHJKLMNPQRTUWXY"[g.r.IntN(21)]
			s += int(org[i]-'A'+10) * ow[i]
		} else {
			org[i] = byte('0' + g.r.IntN(10))
			s += int(org[i]-'0') * ow[i]
		}
	}
	b.Write(org)
	switch c := 11 - s%11; c {
	case 10:
		b.WriteByte('X')
	case 11:
		b.WriteByte('0')
	default:
		b.WriteByte(byte('0' + c))
	}
	body := b.String()
	t := 0
	for i := 0; i < 17; i++ {
		t += strings.IndexByte(usccChars, body[i]) * usccW[i]
	}
	c := 31 - t%31
	if c == 31 {
		c = 0
	}
	return body + string(usccChars[c])
}

func (g *Generator) hkid() string {
	l := byte('A' + g.r.IntN(26))
	d := g.digits(6)
	s := 36*9 + int(l-'A'+10)*8
	for i := 0; i < 6; i++ {
		s += int(d[i]-'0') * (7 - i)
	}
	c := (11 - s%11) % 11
	cs := "0123456789A"[c : c+1]
	return string(l) + d + "(" + cs + ")"
}

var twCodes = []int{10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32, 30, 31, 33}

func (g *Generator) twid() string {
	l := g.r.IntN(26)
	body := string(rune('1'+g.r.IntN(2))) + g.digits(7)
	code := twCodes[l]
	s := code/10 + (code%10)*9
	for i := 0; i < 8; i++ {
		s += int(body[i]-'0') * (8 - i)
	}
	return string(rune('A'+l)) + body + string(rune('0'+(10-s%10)%10))
}

func (g *Generator) ssn() string {
	area := 1 + g.r.IntN(899)
	if area == 666 {
		area = 667
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+g.r.IntN(99), 1+g.r.IntN(9999))
}

// iban returns a German, British or French IBAN with its mod-97 check.
func (g *Generator) iban() string {
	var cc, bban string
	switch g.r.IntN(3) {
	case 0:
		cc, bban = "DE", g.digits(18)
	case 1:
		cc, bban = "GB", g.pick([]string{"WEST", "NWBK", "BARC", "HBUK"})+g.digits(14)
	default:
		cc, bban = "FR", g.digits(23)
	}
	num := bban + cc + "00"
	rem := 0
	for _, c := range num {
		if c >= 'A' {
			rem = (rem*100 + int(c-'A') + 10) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return fmt.Sprintf("%s%02d%s", cc, 98-rem, bban)
}

func (g *Generator) ipv4() string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+g.r.IntN(223), g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
}

func (g *Generator) ipv6() string {
	gs := make([]string, 8)
	gs[0] = g.pick([]string{"2001", "2408", "240e", "fe80", "2409"})
	for i := 1; i < 8; i++ {
		gs[i] = fmt.Sprintf("%x", g.r.IntN(0x10000))
	}
	if g.r.IntN(2) == 0 {
		return strings.Join(gs[:3], ":") + "::" + strings.Join(gs[6:], ":")
	}
	return strings.Join(gs, ":")
}

func (g *Generator) geo() string {
	lat := 18 + g.r.Float64()*35
	lon := 73 + g.r.Float64()*62
	if g.r.IntN(2) == 0 {
		return fmt.Sprintf("%.6f, %.6f", lat, lon)
	}
	return fmt.Sprintf("%.5f,%.5f", lat, lon)
}

const plateProv = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
const plateLetters = "ABCDEFGHJKLMNPQRSTUVWXYZ"

func (g *Generator) plate() string {
	provs := []rune(plateProv)
	p := string(provs[g.r.IntN(len(provs))]) + string(plateLetters[g.r.IntN(len(plateLetters))])
	if g.r.IntN(3) == 0 {
		p += "·"
	}
	switch g.r.IntN(4) {
	case 0: // new energy, small car
		return p + string("DF"[g.r.IntN(2)]) + string(plateLetters[g.r.IntN(len(plateLetters))]) + g.digits(4)
	case 1:
		return p + string(plateLetters[g.r.IntN(len(plateLetters))]) + g.digits(4)
	default:
		return p + g.digits(5)
	}
}

func (g *Generator) passport() string { return "E" + g.digits(8) }

func (g *Generator) permit() string { return "C" + g.digits(8) }

func (g *Generator) pnr() string {
	const a = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = a[g.r.IntN(len(a))]
	}
	b[g.r.IntN(6)] = plateLetters[g.r.IntN(len(plateLetters))]
	return string(b)
}

func (g *Generator) intlPhone() string {
	switch g.r.IntN(4) {
	case 0:
		return "+44 20 " + g.digits(4) + " " + g.digits(4)
	case 1:
		return "+1 415 555 " + g.digits(4)
	case 2:
		return "+81 3-" + g.digits(4) + "-" + g.digits(4)
	default:
		return "+49 30 " + g.digits(7)
	}
}

func (g *Generator) landline() string {
	switch g.r.IntN(4) {
	case 0:
		return "010-" + string(rune('2'+g.r.IntN(7))) + g.digits(7)
	case 1:
		return g.pick([]string{"021", "020", "023", "027", "028"}) + "-" + string(rune('2'+g.r.IntN(7))) + g.digits(7)
	case 2:
		return g.pick([]string{"0755", "0571", "0512", "0731", "0898"}) + "-" + string(rune('2'+g.r.IntN(7))) + g.digits(7)
	default:
		return g.pick([]string{"0311", "0351", "0471"}) + "-" + string(rune('2'+g.r.IntN(7))) + g.digits(6)
	}
}

func (g *Generator) email() string {
	local := g.pick([]string{"zhang.wei", "li_na", "wangfang", "liu.yang", "chen88", "j.smith", "maria.garcia", "user", "service", "hr.dept"})
	if g.r.IntN(2) == 0 {
		local += g.digits(1 + g.r.IntN(4))
	}
	return local + "@" + g.pick([]string{"qq.com", "163.com", "126.com", "gmail.com", "example.com", "mail.example.cn", "corp.example.org", "sina.com.cn"})
}

// addressNoDivision is an address that starts below the city level, as
// written after 地址：.
func (g *Generator) addressNoDivision() string {
	return g.pick([]string{"南山区", "海淀区", "西湖区", "天河区"}) + g.pick(roadNames) + fmt.Sprintf("%d号%d室", 1+g.r.IntN(500), 101+g.r.IntN(2000))
}

func (g *Generator) date(y, m, d int) string {
	switch g.r.IntN(4) {
	case 0:
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	case 1:
		return fmt.Sprintf("%04d/%02d/%02d", y, m, d)
	case 2:
		return fmt.Sprintf("%04d年%d月%d日", y, m, d)
	default:
		return fmt.Sprintf("%04d%02d%02d", y, m, d)
	}
}
