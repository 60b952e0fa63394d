package policy

import (
	"reflect"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// unknownFields reports every mapping key under n that the Go type t has
// no field for, each with its position, so that lint names all the
// misspelt keys of a file at once; the strict decoder stops at the first.
// Nodes it does not recognise (anchors, aliases, tags) are left to the
// decoder, which still rejects anything unknown.
func (c *compiler) unknownFields(n ast.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var pairs []*ast.MappingValueNode
		switch m := n.(type) {
		case *ast.MappingNode:
			pairs = m.Values
		case *ast.MappingValueNode:
			pairs = []*ast.MappingValueNode{m}
		default:
			return
		}
		fields := yamlFields(t)
		for _, mv := range pairs {
			tk := mv.Key.GetToken()
			if tk == nil {
				continue
			}
			ft, ok := fields[tk.Value]
			if !ok {
				c.errorf(Pos{File: c.file, Line: tk.Position.Line, Column: tk.Position.Column}, "", "unknown field %q", tk.Value)
				continue
			}
			c.unknownFields(mv.Value, ft)
		}
	case reflect.Slice:
		if s, ok := n.(*ast.SequenceNode); ok {
			for _, v := range s.Values {
				c.unknownFields(v, t.Elem())
			}
		}
	case reflect.Map:
		switch m := n.(type) {
		case *ast.MappingNode:
			for _, mv := range m.Values {
				c.unknownFields(mv.Value, t.Elem())
			}
		case *ast.MappingValueNode:
			c.unknownFields(m.Value, t.Elem())
		}
	}
}

// yamlFields maps the YAML names of t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
