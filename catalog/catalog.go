package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/goccy/go-yaml"

	"github.com/custos-dev/custos"
)

// Version is the catalogue file format this build reads and writes.
const Version = 1

// File is a catalogue document as written in YAML.
type File struct {
	Version   int        `yaml:"version"`
	Resources []Resource `yaml:"resources"`
}

// Resource is one table or one HTTP route and the personal data in it.
// Exactly one of Table and Route is set.
type Resource struct {
	System string `yaml:"system"`
	// Table is schema.table (public.passengers); a bare name means the
	// default schema and is kept as written.
	Table string `yaml:"table,omitempty"`
	// Columns maps column names to what they hold.
	Columns map[string]Field `yaml:"columns,omitempty"`
	// Route is "METHOD /path/{param}" as the HTTP gateway matches it.
	Route string `yaml:"route,omitempty"`
	// Fields maps JSON paths in the response ($.passenger.idNo, $.items[*].phone)
	// to what they hold.
	Fields map[string]Field `yaml:"fields,omitempty"`
}

// Field is what one column or JSON field holds.
type Field struct {
	Type custos.DataType `yaml:"type,omitempty"`
	// Category overrides the type's default category (a phone number in a
	// call-record table is communication data); required when Type is empty.
	Category custos.Category `yaml:"category,omitempty"`
	// SubjectKey marks the field that identifies the data subject of a row.
	SubjectKey bool `yaml:"subject_key,omitempty"`
	// Confidence is the scanner's confidence for imported entries (0 for
	// entries written by hand, which are authoritative).
	Confidence float64 `yaml:"confidence,omitempty"`
}

// EffectiveCategory is the field's category, or its type's default one.
func (f Field) EffectiveCategory() custos.Category {
	if f.Category != "" {
		return f.Category
	}
	return custos.CategoryOf(f.Type)
}

// Catalog is a loaded, validated catalogue, indexed for lookups. It is
// read-only after construction and safe for concurrent use.
type Catalog struct {
	file  File
	index map[key]*classified
}

type key struct{ system, object string }

// classified is the precomputed answer for one resource.
type classified struct {
	res        *Resource
	types      []string
	categories []string
	subjectKey []string
}

// Load reads and validates a catalogue file.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a catalogue strictly (unknown fields are errors) and
// validates it. Errors name name:line:column.
func Parse(name string, data []byte) (*Catalog, error) {
	var f File
	if err := unmarshalStrict(data, &f); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			pos := ye.GetToken().Position
			return nil, fmt.Errorf("%s:%d:%d: %s", name, pos.Line, pos.Column, ye.GetMessage())
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c, err := New(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// unmarshalStrict decodes strictly, turning a panic inside the YAML library
// (go-yaml v1.19.2 panics on some tagged empty nodes) into an error.
func unmarshalStrict(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (decoder failure: %v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.Strict())
}

// New validates f and indexes it.
func New(f File) (*Catalog, error) {
	if f.Version != 0 && f.Version != Version {
		return nil, fmt.Errorf("catalog: version %d, this build reads %d", f.Version, Version)
	}
	c := &Catalog{file: f, index: make(map[key]*classified)}
	for i := range c.file.Resources {
		r := &c.file.Resources[i]
		where := fmt.Sprintf("resources[%d]", i)
		if r.System == "" {
			return nil, fmt.Errorf("catalog: %s.system: required", where)
		}
		if (r.Table == "") == (r.Route == "") {
			return nil, fmt.Errorf("catalog: %s: exactly one of table and route", where)
		}
		if r.Table != "" && len(r.Fields) > 0 || r.Route != "" && len(r.Columns) > 0 {
			return nil, fmt.Errorf("catalog: %s: tables have columns, routes have fields", where)
		}
		fields := r.Columns
		if r.Route != "" {
			fields = r.Fields
		}
		cl := &classified{res: r}
		for _, name := range sortedKeys(fields) {
			f := fields[name]
			if f.Type != "" && !custos.KnownType(f.Type) {
				return nil, fmt.Errorf("catalog: %s %q: unknown data type %q", where, name, f.Type)
			}
			if f.Category != "" && !custos.KnownCategory(f.Category) {
				return nil, fmt.Errorf("catalog: %s %q: unknown category %q", where, name, f.Category)
			}
			if f.Type == "" && f.Category == "" {
				return nil, fmt.Errorf("catalog: %s %q: type or category required", where, name)
			}
			if f.Type != "" && !slices.Contains(cl.types, f.Type) {
				cl.types = append(cl.types, f.Type)
			}
			if cat := f.EffectiveCategory(); cat != "" && !slices.Contains(cl.categories, cat) {
				cl.categories = append(cl.categories, cat)
			}
			if f.SubjectKey {
				cl.subjectKey = append(cl.subjectKey, name)
			}
		}
		k := key{r.System, r.Table + r.Route}
		if _, dup := c.index[k]; dup {
			return nil, fmt.Errorf("catalog: %s: %s %s listed twice", where, r.System, k.object)
		}
		c.index[k] = cl
	}
	return c, nil
}

// File returns the catalogue document (for writing it back out).
func (c *Catalog) File() File { return c.file }

// Marshal encodes the catalogue as YAML.
func (c *Catalog) Marshal() ([]byte, error) { return yaml.Marshal(c.file) }

// Classify returns the data types and categories held by a resource
// (object is schema.table or "METHOD /route"), or nil slices for a
// resource the catalogue does not know. The slices are shared: do not
// modify them.
func (c *Catalog) Classify(system, object string) (types, categories []string) {
	cl := c.index[key{system, object}]
	if cl == nil {
		return nil, nil
	}
	return cl.types, cl.categories
}

// Resource returns the catalogue entry for a table or route.
func (c *Catalog) Resource(system, object string) (Resource, bool) {
	cl := c.index[key{system, object}]
	if cl == nil {
		return Resource{}, false
	}
	return *cl.res, true
}

// Field returns what a column or JSON field holds.
func (c *Catalog) Field(system, object, name string) (Field, bool) {
	cl := c.index[key{system, object}]
	if cl == nil {
		return Field{}, false
	}
	if f, ok := cl.res.Columns[name]; ok {
		return f, true
	}
	f, ok := cl.res.Fields[name]
	return f, ok
}

// SubjectKeys returns the columns or fields that identify the data subject
// of a resource, in name order.
func (c *Catalog) SubjectKeys(system, object string) []string {
	cl := c.index[key{system, object}]
	if cl == nil {
		return nil
	}
	return cl.subjectKey
}

// Finding is one scanner result on a database column, as the import
// takes it: the column form of `custos scan --format json|jsonl` findings
// carries these fields (ReadScanJSON reads them).
type Finding struct {
	System     string  `json:"system"`
	Schema     string  `json:"schema"`
	Table      string  `json:"table"`
	Column     string  `json:"column"`
	Type       string  `json:"type"`
	Category   string  `json:"category"`
	Confidence float64 `json:"confidence"`
}

// ReadScanJSON reads scanner output — the json form
// ({"version":1,"findings":[…]}) or jsonl (one finding a line) — and
// returns its column findings; file findings (no table) are skipped.
// Fields it does not use are ignored, so newer scanner output still reads.
func ReadScanJSON(r io.Reader) ([]Finding, error) {
	dec := json.NewDecoder(r)
	var out []Finding
	for i := 0; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("catalog: scan output document %d: %w", i, err)
		}
		var doc struct {
			Findings []Finding `json:"findings"`
			Table    string    `json:"table"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("catalog: scan output document %d: not a finding", i)
		}
		if doc.Findings != nil {
			for _, f := range doc.Findings {
				if f.Table != "" {
					out = append(out, f)
				}
			}
			continue
		}
		if doc.Table == "" {
			continue
		}
		var f Finding
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("catalog: scan output document %d: not a finding", i)
		}
		out = append(out, f)
	}
}

// FromFindings builds a catalogue document from scanner findings with at
// least minConfidence. A column found with several types keeps the one
// with the highest confidence. In each table the column of the strongest
// personal identifier (ID number before phone number) is proposed as the
// subject key; review it. Findings of unknown types are skipped and
// counted in the returned number.
func FromFindings(findings []Finding, minConfidence float64) (File, int) {
	type tk struct{ system, table string }
	tables := map[tk]map[string]Field{}
	skipped := 0
	for _, f := range findings {
		if !custos.KnownType(f.Type) || f.Table == "" || f.Column == "" {
			skipped++
			continue
		}
		if f.Confidence < minConfidence {
			continue
		}
		table := f.Table
		if f.Schema != "" {
			table = f.Schema + "." + f.Table
		}
		k := tk{f.System, table}
		if tables[k] == nil {
			tables[k] = map[string]Field{}
		}
		if old, ok := tables[k][f.Column]; ok && old.Confidence >= f.Confidence {
			continue
		}
		field := Field{Type: f.Type, Confidence: f.Confidence}
		if custos.KnownCategory(f.Category) && f.Category != custos.CategoryOf(f.Type) {
			field.Category = f.Category
		}
		tables[k][f.Column] = field
	}
	keys := make([]tk, 0, len(tables))
	for k := range tables {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].system < keys[j].system || keys[i].system == keys[j].system && keys[i].table < keys[j].table
	})
	out := File{Version: Version}
	for _, k := range keys {
		cols := tables[k]
		best, bestRank := "", len(subjectKeyOrder)
		for _, name := range sortedKeys(cols) {
			if r := slices.Index(subjectKeyOrder, cols[name].Type); r >= 0 && r < bestRank {
				best, bestRank = name, r
			}
		}
		if best != "" {
			f := cols[best]
			f.SubjectKey = true
			cols[best] = f
		}
		out.Resources = append(out.Resources, Resource{System: k.system, Table: k.table, Columns: cols})
	}
	return out, skipped
}

// subjectKeyOrder ranks identifiers by how uniquely they name a person.
var subjectKeyOrder = []custos.DataType{
	custos.TypeCNID, custos.TypeCNPassport, custos.TypeHKMOPermit, custos.TypeHKID, custos.TypeTWID, custos.TypeCNMobile,
}

// Merge returns base with the resources of add that base lacks, and the
// columns of add that base's resources lack: hand-written entries always
// win over imported ones.
func Merge(base, add File) File {
	out := File{Version: Version, Resources: slices.Clone(base.Resources)}
	idx := map[key]int{}
	for i, r := range out.Resources {
		idx[key{r.System, r.Table + r.Route}] = i
	}
	for _, r := range add.Resources {
		i, ok := idx[key{r.System, r.Table + r.Route}]
		if !ok {
			out.Resources = append(out.Resources, r)
			continue
		}
		have := &out.Resources[i]
		merge := func(dst *map[string]Field, src map[string]Field) {
			if len(src) == 0 {
				return
			}
			m := make(map[string]Field, len(*dst)+len(src))
			for k, v := range *dst {
				m[k] = v
			}
			for k, v := range src {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
			*dst = m
		}
		merge(&have.Columns, r.Columns)
		merge(&have.Fields, r.Fields)
	}
	return out
}

func sortedKeys(m map[string]Field) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
