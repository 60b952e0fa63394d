package pii_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps keeps pii and pii/corpus free of everything but the standard
// library, the root package, x/text and x/sys/cpu (which CPU runs the
// vector skip loops): the gateways import pii on their
// hot path, and pii must not import them back.
func TestDeps(t *testing.T) {
	for _, dir := range []string{".", "corpus"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				switch {
				case !strings.Contains(strings.SplitN(p, "/", 2)[0], "."): // standard library
				case p == "github.com/custos-dev/custos", p == "golang.org/x/text/unicode/norm", p == "golang.org/x/sys/cpu":
				default:
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
}
