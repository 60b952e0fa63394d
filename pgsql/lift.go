package pgsql

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Type OIDs of the numeric literals PostgreSQL's parser makes.
const (
	oidInt4    = 23
	oidInt8    = 20
	oidNumeric = 1700
)

// Lifted is a SELECT with its numeric constants lifted out as typed
// parameters, so that a gateway can run every query of one shape as one
// prepared statement: the server then parses and plans the shape once per
// connection instead of once per query.
//
// Each parameter has the type the parser gives the literal it replaces
// (int4 when it fits, else int8, else numeric), so operator and function
// resolution, result column types and names are those of the original
// query. Constants whose position PostgreSQL reads as something other than
// a value are left in place: ORDER BY 1 (a column position), GROUP BY and
// DISTINCT ON lists, type modifiers such as varchar(10) and negated
// literals (-1 is one constant in the tree, two tokens in the text).
// String constants stay in place too: a quoted literal is of unknown type
// and resolved from its context, which a parameter of unknown type is not
// in every position (SELECT 'a' has a text column, SELECT $1 is an error).
type Lifted struct {
	// Text is the statement with $1, $2, … in place of the lifted constants.
	Text string
	// Types are the parameters' type OIDs, Values their text-format values.
	Types  []uint32
	Values [][]byte
}

// liftable returns the byte offsets (in the query string the tree was
// parsed from) of the numeric constants of a statement that may be
// replaced by parameters of their own type without changing what the
// statement means; nil unless the statement is a plain SELECT.
func liftable(n *pg_query.Node) []int32 {
	if _, ok := n.GetNode().(*pg_query.Node_SelectStmt); !ok {
		return nil
	}
	var out []int32
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		switch v := m.Interface().(type) {
		case *pg_query.TypeName:
			return // type modifiers must be constants
		case *pg_query.A_Const:
			switch v.Val.(type) {
			case *pg_query.A_Const_Ival, *pg_query.A_Const_Fval:
				out = append(out, v.Location)
			}
			return
		case *pg_query.SortBy:
			if v.Node.GetAConst() != nil {
				return // ORDER BY 1 is the first result column
			}
		case *pg_query.SelectStmt:
			// GROUP BY 1 and DISTINCT ON (1) are column positions too;
			// their lists are skipped whole.
			fields := m.Descriptor().Fields()
			for i := 0; i < fields.Len(); i++ {
				fd := fields.Get(i)
				if fd.Name() == "group_clause" || fd.Name() == "distinct_clause" {
					continue
				}
				walkField(m, fd, walk)
			}
			return
		}
		eachChild(m, walk)
	}
	walk(n.ProtoReflect())
	return out
}

// walkField calls f on the messages of one field of m (see eachChild).
func walkField(m protoreflect.Message, fd protoreflect.FieldDescriptor, f func(protoreflect.Message)) {
	if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || !m.Has(fd) {
		return
	}
	val := m.Get(fd)
	if !fd.IsList() {
		f(val.Message())
		return
	}
	l := val.List()
	for j := 0; j < l.Len(); j++ {
		f(l.Get(j).Message())
	}
}

// liftOrdinals maps the liftable constant offsets of a query string onto
// the ordinals of its constants as shape lexes them: the form a cached
// shape keeps, since offsets differ from one query of the shape to the
// next and ordinals do not.
func liftOrdinals(sql string, locs []int32) []int {
	if len(locs) == 0 {
		return nil
	}
	_, text, consts, ok := lexShape(sql)
	if !ok {
		return nil
	}
	base := int32(len(sql) - len(strings.TrimLeft(sql, " \t\n\r\f\v")))
	at := make(map[int32]bool, len(locs))
	for _, l := range locs {
		at[l] = true
	}
	var out []int
	for i, c := range consts {
		if c.numeric && at[base+int32(c.start)] && literalType(text[c.start:c.end]) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// lift builds the Lifted form of text, whose constants consts are (as
// lexShape gives them), lifting those of the ordinals given.
func lift(text string, consts []constToken, ordinals []int) *Lifted {
	if len(ordinals) == 0 {
		return nil
	}
	l := &Lifted{Types: make([]uint32, 0, len(ordinals)), Values: make([][]byte, 0, len(ordinals))}
	var b strings.Builder
	b.Grow(len(text) + 2*len(ordinals))
	last := 0
	for _, k := range ordinals {
		if k >= len(consts) {
			return nil
		}
		c := consts[k]
		lit := text[c.start:c.end]
		oid := literalType(lit)
		if !c.numeric || oid == 0 {
			return nil
		}
		b.WriteString(text[last:c.start])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(l.Types) + 1))
		last = c.end
		l.Types = append(l.Types, oid)
		l.Values = append(l.Values, []byte(lit))
	}
	b.WriteString(text[last:])
	l.Text = b.String()
	return l
}

// literalType is the type OID PostgreSQL's parser gives a numeric literal
// of digits with at most one decimal point, 0 for any other form (which is
// then not lifted).
func literalType(lit string) uint32 {
	dot := strings.IndexByte(lit, '.')
	if dot == 0 || dot == len(lit)-1 || strings.Count(lit, ".") > 1 {
		return 0
	}
	for i := 0; i < len(lit); i++ {
		if (lit[i] < '0' || lit[i] > '9') && lit[i] != '.' {
			return 0
		}
	}
	if dot > 0 {
		return oidNumeric
	}
	if _, err := strconv.ParseInt(lit, 10, 32); err == nil {
		return oidInt4
	}
	if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return oidInt8
	}
	return oidNumeric
}
