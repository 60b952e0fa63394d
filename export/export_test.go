package export

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/pii"
)

func testIndex(t testing.TB) *blind.Index {
	x, err := blind.New(make([]byte, blind.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestCanariesAreValidAndUnique(t *testing.T) {
	k := NewKeyer([]byte("org secret"))
	seen := map[string]string{}
	for e := 0; e < 200; e++ {
		id := fmt.Sprintf("export-%d", e)
		for _, c := range DemoPool().Canaries(k.Key(id), 3) {
			for _, typ := range []custos.DataType{"cn_id", "cn_mobile", "email", "cn_name"} {
				if !pii.Valid(typ, c.Value(typ)) {
					t.Fatalf("canary of %s is not a valid %s", id, typ)
				}
			}
			if other, dup := seen[c.ID]; dup && other != id {
				t.Fatalf("canary ID shared by %s and %s", other, id)
			}
			seen[c.ID] = id
		}
	}
	// Deterministic.
	a, b := DemoPool().Canaries(k.Key("x"), 2), DemoPool().Canaries(k.Key("x"), 2)
	if a[0] != b[0] || a[1] != b[1] {
		t.Fatal("canaries are not a function of the key")
	}
}

func TestReadPool(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"mixed", "# ours\n13800138000\n+86 139 0013 9000\nhr@corp.example.com\n@canary.example.org\n", true},
		{"bad phone", "12345\n", false},
		{"empty", "# nothing\n\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReadPool(strings.NewReader(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && (len(p.Phones) != 2 || len(p.Mailboxes) != 1 || len(p.Domains) != 1 || p.Phones[1] != "13900139000") {
				t.Fatalf("pool = %+v", p)
			}
		})
	}
}

func TestForms(t *testing.T) {
	for f := 0; f < 4; f++ {
		if got := PhoneForm(FormatPhone("13812345678", f)); got != f {
			t.Errorf("PhoneForm(FormatPhone(%d)) = %d", f, got)
		}
		if got := DateForm(FormatDate("1990-02-03", f)); got != f {
			t.Errorf("DateForm(FormatDate(%d)) = %d (%q)", f, got, FormatDate("1990-02-03", f))
		}
	}
	for f := 0; f < 3; f++ {
		if got := EmailForm(FormatEmail("Wei.Li@mail.example.com", f)); got != f {
			t.Errorf("EmailForm(FormatEmail(%d)) = %d", f, got)
		}
	}
	for _, raw := range []string{"138-1234-5678", "0086 13812345678", "138 12345678x"} {
		if PhoneForm(raw) != -1 {
			t.Errorf("PhoneForm(%q) should be -1 (reformatted)", raw)
		}
	}
}

// sampleTable builds n rows of synthetic people with a name, ID, mobile,
// e-mail, birth date and a non-personal column.
func sampleTable(r *rand.Rand, n int) *Table {
	t := &Table{Columns: []Column{{"姓名", "cn_name"}, {"证件号", "cn_id"}, {"手机", "cn_mobile"}, {"邮箱", "email"}, {"生日", "date_of_birth"}, {"航班", ""}}}
	pool := &Pool{Domains: []string{"qq.example.com"}}
	for i := 0; i < 100000 && len(t.Rows) < n; i++ {
		for _, c := range pool.Canaries([]byte(fmt.Sprint("people", r.Uint64())), 1) {
			mobile := fmt.Sprintf("13%d%08d", 5+r.IntN(5), r.IntN(1e8))
			t.Rows = append(t.Rows, []string{c.Name, c.ID, mobile, c.Email, c.DateOfBirth, fmt.Sprintf("MU%04d", r.IntN(10000))})
		}
	}
	return t
}

func leaked(t *Table) []*LeakedRecord {
	var out []*LeakedRecord
	for _, row := range t.Rows {
		r := &LeakedRecord{Last: row[len(row)-1], HasLast: true}
		for j, c := range t.Columns {
			switch {
			case c.Type == "date_of_birth":
				r.Dates = append(r.Dates, row[j])
			case PrimaryRank(c.Type) >= 0:
				if n := normalize(c.Type, row[j]); n != "" {
					r.IDs = append(r.IDs, Observed{Type: c.Type, Normalized: n, Raw: row[j]})
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func TestFingerprintRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	k := NewKeyer([]byte("org"))
	x := testIndex(t)
	f := &Fingerprinter{Keyer: k, Hash: x.Hash, Pool: DemoPool(), Order: true, Variants: Variants}
	tbl := sampleTable(r, 400)
	ex := &Export{ID: "exp-1", Actor: "alice"}
	if err := f.Apply(ex, tbl); err != nil {
		t.Fatal(err)
	}
	if ex.Rows != 402 || len(ex.Canaries) != 2*3 || len(ex.Subjects) != 400*3 {
		t.Fatalf("rows %d canaries %d subjects %d", ex.Rows, len(ex.Canaries), len(ex.Subjects))
	}
	// Meaning is preserved: every cell still normalizes to what it was.
	recs := leaked(tbl)
	sample := recs[100:120] // a 20-row subset, in order
	own := k.Key("exp-1")
	other := k.Key("exp-2")
	if s := OrderScore(own, sample); s.PValue > 1e-12 {
		t.Errorf("order, own key: %+v", s)
	}
	if s := OrderScore(other, sample); s.PValue < 1e-3 {
		t.Errorf("order, other key: %+v", s)
	}
	if s := FormatScore(own, Variants, sample); s.PValue > 1e-12 || s.Agreements != s.Observations {
		t.Errorf("format, own key: %+v", s)
	}
	if s := FormatScore(other, Variants, sample); s.PValue < 1e-3 {
		t.Errorf("format, other key: %+v", s)
	}
}
