package export

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
)

// Pool is the organization-owned supply of contact points for canary
// records: phone numbers and mailboxes that the organization controls, so
// that a call or mail to a canary is itself evidence of the leak. Other
// fields of a canary (ID number, name, birth date) are synthetic.
type Pool struct {
	// Phones are mobile numbers (any writing; normalized on load).
	Phones []string
	// Mailboxes are full addresses the organization reads.
	Mailboxes []string
	// Domains are catch-all mail domains the organization owns: canary
	// addresses are made up under them.
	Domains []string
}

// LoadPool reads a pool file: one entry per line, a mobile number, an
// e-mail address, or "@domain" for a catch-all domain; blank lines and
// lines starting with # are ignored. Errors name the line, not its value.
func LoadPool(path string) (*Pool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("export: canary pool: %w", err)
	}
	defer f.Close()
	return ReadPool(f)
}

// ReadPool reads pool entries from r (see LoadPool).
func ReadPool(r io.Reader) (*Pool, error) {
	p := &Pool{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || strings.HasPrefix(s, "#"):
		case strings.HasPrefix(s, "@"):
			if !pii.Valid("email", "canary"+s) {
				return nil, fmt.Errorf("export: canary pool line %d: not a mail domain", line)
			}
			p.Domains = append(p.Domains, strings.ToLower(s[1:]))
		case strings.Contains(s, "@"):
			n, err := pii.Normalize("email", s)
			if err != nil || !pii.Valid("email", s) {
				return nil, fmt.Errorf("export: canary pool line %d: not an e-mail address", line)
			}
			p.Mailboxes = append(p.Mailboxes, n)
		default:
			n, err := pii.Normalize("cn_mobile", s)
			if err != nil || !pii.Valid("cn_mobile", s) {
				return nil, fmt.Errorf("export: canary pool line %d: not a mobile number in a personal segment", line)
			}
			p.Phones = append(p.Phones, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("export: canary pool: %w", err)
	}
	if len(p.Phones) == 0 && len(p.Mailboxes) == 0 && len(p.Domains) == 0 {
		return nil, fmt.Errorf("export: canary pool is empty")
	}
	return p, nil
}

// DemoPool is a generated pool for the demo and the evaluation: 10,000
// mobiles in 170 9900 0000–170 9900 9999 (a virtual-operator block that
// looks real) and a catch-all domain under example.com. A real deployment
// configures numbers and mailboxes it owns.
func DemoPool() *Pool {
	p := &Pool{Domains: []string{"mail.example.com"}}
	for i := 0; i < 10000; i++ {
		p.Phones = append(p.Phones, fmt.Sprintf("1709900%04d", i))
	}
	return p
}

// Canary is one synthetic person planted in an export. Values are raw;
// they exist only while the export is being written.
type Canary struct {
	Name        string
	ID          string // cn_id, valid check character
	Mobile      string // from the pool, if it has phones
	Email       string // from the pool, if it has mailboxes or domains
	DateOfBirth string // YYYY-MM-DD, matching ID
	// EmailMadeUp is true when Email was made up under a catch-all
	// domain (so it is unique to this canary, like ID).
	EmailMadeUp bool
}

// Values returns the canary's value for a column of type t, "" if it has
// none.
func (c *Canary) Value(t custos.DataType) string {
	switch t {
	case "cn_name":
		return c.Name
	case "cn_id":
		return c.ID
	case "cn_mobile":
		return c.Mobile
	case "email":
		return c.Email
	case "date_of_birth":
		return c.DateOfBirth
	}
	return ""
}

// Subjects returns the canary's identifiers as raw subjects. The registry
// keeps all of them as the export's canaries; a leaked record counts as
// this canary only when two of them appear in it together, because each
// alone is weak: pool phones and mailboxes are shared between canaries of
// many exports, and a made-up ID number may belong to a real stranger.
func (c *Canary) Subjects() []custos.Subject {
	var out []custos.Subject
	for _, t := range []custos.DataType{"cn_id", "cn_mobile", "email"} {
		if v := c.Value(t); v != "" {
			out = append(out, custos.Subject{Type: t, Value: v})
		}
	}
	return out
}

var (
	canarySurnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"}
	canaryGiven    = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "文", "建华", "晓东", "子涵", "浩然", "雨萱", "思远"}
	canaryRegions  = []string{"110101", "110105", "310101", "310115", "440103", "440305", "330106", "320102", "510104", "420102", "610113", "500103"}
	idWeights      = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
)

// Canaries returns n canary people for the export whose watermark key is
// key. They depend only on key, the index and the pool, so they are the
// same every time they are computed and differ between exports.
func (p *Pool) Canaries(key []byte, n int) []Canary {
	out := make([]Canary, n)
	for i := range out {
		r := canaryRand{key: key, i: uint64(i)}
		c := &out[i]
		c.Name = canarySurnames[r.next(len(canarySurnames))] + canaryGiven[r.next(len(canaryGiven))]
		y := 1960 + r.next(45)
		m := 1 + r.next(12)
		d := 1 + r.next(28)
		c.DateOfBirth = fmt.Sprintf("%04d-%02d-%02d", y, m, d)
		body := fmt.Sprintf("%s%04d%02d%02d%03d", canaryRegions[r.next(len(canaryRegions))], y, m, d, r.next(1000))
		c.ID = body + string(idCheck(body))
		if len(p.Phones) > 0 {
			c.Mobile = p.Phones[r.next(len(p.Phones))]
		}
		switch {
		case len(p.Mailboxes) > 0 && (len(p.Domains) == 0 || r.next(2) == 0):
			c.Email = p.Mailboxes[r.next(len(p.Mailboxes))]
		case len(p.Domains) > 0:
			c.Email = fmt.Sprintf("%s.%04x@%s", pinyinish[r.next(len(pinyinish))], r.next(1<<16), p.Domains[r.next(len(p.Domains))])
			c.EmailMadeUp = true
		}
	}
	return out
}

var pinyinish = []string{"wei", "fang", "na", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "yan", "jie", "juan", "tao", "ming", "chao", "xia", "ping", "gang"}

// idCheck is the GB 11643 check character of a 17-digit ID body.
func idCheck(body string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

// canaryRand is a keyed deterministic stream for one canary.
type canaryRand struct {
	key []byte
	i   uint64
	n   uint64
	buf []byte
}

func (r *canaryRand) next(bound int) int {
	if len(r.buf) < 8 {
		m := hmac.New(sha256.New, r.key)
		var b [17]byte
		b[0] = 'c'
		binary.BigEndian.PutUint64(b[1:], r.i)
		binary.BigEndian.PutUint64(b[9:], r.n)
		r.n++
		m.Write(b[:])
		r.buf = m.Sum(nil)
	}
	v := binary.BigEndian.Uint64(r.buf[:8])
	r.buf = r.buf[8:]
	return int(v % uint64(bound))
}
