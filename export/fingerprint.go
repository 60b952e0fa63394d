package export

import (
	"errors"
	"fmt"
	"slices"

	"github.com/custos-dev/custos"
)

// Column is one column of an exported table: its name and, when it holds
// personal data, the data type (from the catalogue or pii.ColumnHint).
type Column struct {
	Name string
	Type custos.DataType
}

// Table is an export as rows of text cells, as a gateway is about to
// write it. Every row has len(Columns) cells.
type Table struct {
	Columns []Column
	Rows    [][]string
}

// HashFunc is the blind index (blind.Index.Hash).
type HashFunc func(t custos.DataType, value string) (string, error)

// Fingerprinter marks exports for their recipient and fills in their
// registry entry. The zero value of each option turns that mark off.
type Fingerprinter struct {
	Keyer *Keyer
	Hash  HashFunc
	// Pool supplies canary contact points; nil plants no canaries.
	Pool *Pool
	// CanaryEvery plants one canary per this many real rows (at least
	// one canary per export when Pool is set); 0 means 200.
	CanaryEvery int
	// Order puts rows in the export's keyed order.
	Order bool
	// Variants are the formatting variants to apply.
	Variants []Variant
}

// Apply fingerprints t in place for the export ex (whose ID must be set)
// and fills ex's Subjects, Canaries, Watermark, Fields and Rows. Canary
// rows copy the non-personal cells of a real row, so they look like the
// rows around them. Cells that do not hold a valid value of their
// column's type are left as they are.
func (f *Fingerprinter) Apply(ex *Export, t *Table) error {
	if ex.ID == "" {
		return errors.New("export: fingerprint: export has no id")
	}
	if f.Keyer == nil || f.Hash == nil {
		return errors.New("export: fingerprint: Keyer and Hash are required")
	}
	key := f.Keyer.Key(ex.ID)
	for i, row := range t.Rows {
		if len(row) != len(t.Columns) {
			return fmt.Errorf("export: fingerprint: row %d has %d cells, want %d", i, len(row), len(t.Columns))
		}
	}
	subjects, err := f.subjects(t)
	if err != nil {
		return err
	}
	ex.Subjects = subjects
	ex.Fields = ex.Fields[:0]
	for _, c := range t.Columns {
		ex.Fields = append(ex.Fields, c.Name)
	}

	// Canaries first, so that every mark applies to them too.
	ex.Canaries = nil
	if f.Pool != nil && len(t.Rows) > 0 {
		every := f.CanaryEvery
		if every <= 0 {
			every = 200
		}
		n := max(1, len(t.Rows)/every)
		for i, c := range f.Pool.Canaries(key, n) {
			row := slices.Clone(t.Rows[(i*7919)%len(t.Rows)])
			for j, col := range t.Columns {
				if col.Type != "" {
					row[j] = c.Value(col.Type)
				}
			}
			pos := int(OrderMark(key, "canary", fmt.Sprint(i)) % uint64(len(t.Rows)+1))
			t.Rows = slices.Insert(t.Rows, pos, row)
			for _, s := range c.Subjects() {
				if !hasColumn(t, s.Type) {
					continue
				}
				h, err := f.Hash(s.Type, s.Value)
				if err != nil {
					return fmt.Errorf("export: fingerprint: canary %d %s: %w", i, s.Type, err)
				}
				ex.Canaries = append(ex.Canaries, custos.Subject{Type: s.Type, Hash: h})
			}
		}
	}

	var variants []Variant // in canonical order: trailing space last
	for _, v := range f.Variants {
		if !v.Known() {
			return fmt.Errorf("export: fingerprint: unknown variant %q", v)
		}
	}
	for _, v := range Variants {
		if slices.Contains(f.Variants, v) {
			variants = append(variants, v)
		}
	}
	prim := primaryColumns(t)
	for _, row := range t.Rows {
		pt, pn := rowPrimary(t, prim, row)
		for _, v := range variants {
			switch v {
			case VariantPhone, VariantEmailCase:
				typ := custos.DataType("cn_mobile")
				if v == VariantEmailCase {
					typ = "email"
				}
				for j, c := range t.Columns {
					if c.Type != typ {
						continue
					}
					n := normalize(typ, row[j])
					if n == "" {
						continue
					}
					form := v.Form(key, typ, n)
					if v == VariantPhone {
						row[j] = FormatPhone(n, form)
					} else {
						row[j] = FormatEmail(row[j], form)
					}
				}
			case VariantDate:
				if pn == "" {
					continue
				}
				for j, c := range t.Columns {
					if c.Type == "date_of_birth" {
						row[j] = FormatDate(row[j], v.Form(key, pt, pn))
					}
				}
			case VariantTrailingSpace:
				if pn == "" || len(row) == 0 {
					continue
				}
				last := len(row) - 1
				for SpaceForm(row[last]) > 0 {
					row[last] = row[last][:len(row[last])-1]
				}
				row[last] += "  "[:v.Form(key, pt, pn)]
			}
		}
	}
	if f.Order {
		marks := make(map[*string]uint64, len(t.Rows))
		for _, row := range t.Rows {
			if len(row) == 0 {
				continue
			}
			pt, pn := rowPrimary(t, prim, row)
			if pn != "" {
				marks[&row[0]] = OrderMark(key, pt, pn)
			}
		}
		// Rows without an identifier keep no particular place: they sort
		// first, in their original order.
		slices.SortStableFunc(t.Rows, func(a, b []string) int {
			var ma, mb uint64
			if len(a) > 0 {
				ma = marks[&a[0]]
			}
			if len(b) > 0 {
				mb = marks[&b[0]]
			}
			switch {
			case ma < mb:
				return -1
			case ma > mb:
				return 1
			}
			return 0
		})
	}
	ex.Watermark = Watermark{Order: f.Order, Variants: variants}
	ex.Rows = len(t.Rows)
	return nil
}

func hasColumn(t *Table, typ custos.DataType) bool {
	for _, c := range t.Columns {
		if c.Type == typ {
			return true
		}
	}
	return false
}

// primaryColumns lists the column indexes that can hold a row's primary
// identifier, most preferred first.
func primaryColumns(t *Table) []int {
	var cols []int
	for j, c := range t.Columns {
		if PrimaryRank(c.Type) >= 0 {
			cols = append(cols, j)
		}
	}
	slices.SortStableFunc(cols, func(a, b int) int {
		return PrimaryRank(t.Columns[a].Type) - PrimaryRank(t.Columns[b].Type)
	})
	return cols
}

// rowPrimary is the row's primary identifier: the most preferred column
// whose cell holds a valid value.
func rowPrimary(t *Table, cols []int, row []string) (custos.DataType, string) {
	for _, j := range cols {
		if n := normalize(t.Columns[j].Type, row[j]); n != "" {
			return t.Columns[j].Type, n
		}
	}
	return "", ""
}

// subjects collects the table's real subjects, sealed and deduplicated.
func (f *Fingerprinter) subjects(t *Table) ([]custos.Subject, error) {
	seen := map[custos.Subject]bool{}
	var out []custos.Subject
	for _, row := range t.Rows {
		for j, c := range t.Columns {
			if PrimaryRank(c.Type) < 0 || row[j] == "" {
				continue
			}
			h, err := f.Hash(c.Type, row[j])
			if err != nil {
				// Not a valid identifier of its type: not a subject.
				continue
			}
			s := custos.Subject{Type: c.Type, Hash: h}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out, nil
}
