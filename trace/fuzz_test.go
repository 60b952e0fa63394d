package trace

import (
	"bytes"
	"context"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos/pii"
)

// fuzzRead reads data in format f and checks what every reader promises:
// no panic, only valid identifiers in normalized form, positions that
// never go backwards.
func fuzzRead(t *testing.T, f Format, data []byte) {
	last := 0
	err := Read(context.Background(), bytes.NewReader(data), f, func(r *Record) error {
		if r.Line < last {
			t.Fatalf("record at %d after %d", r.Line, last)
		}
		last = r.Line
		if len(r.IDs) == 0 {
			t.Fatal("record without identifiers handed on")
		}
		for _, o := range r.IDs {
			if n, err := pii.Normalize(o.Type, o.Normalized); err != nil || n != o.Normalized {
				t.Fatalf("%s identifier is not in normal form", o.Type)
			}
			if o.Raw == "" {
				t.Fatal("identifier without its written form")
			}
		}
		return nil
	})
	_ = err // malformed input may fail; it must not panic
}

func seeds(f *testing.F) {
	m, id := "13812345678", "11010119900307123"+string(idCheck("11010119900307123"))
	for _, s := range []string{
		"", "\n", "a,b,c\n1,2,3\n",
		"姓名,手机,证件\n张伟,138 1234 5678," + id + "\n",
		"\ufeffphone\t" + m + "\n",
		`[{"tel":"` + m + `","id":"` + id + `"}]`,
		`{"a":{"b":[1,2,{"c":"` + m + `"}]}}` + "\n" + `{"mail":"a@b.example.com"}`,
		"[10:02] 老王: 张伟 +86 138-1234-5678\n",
		"\"unterminated," + m + "\n",
		`{"a":`, `[[[[`, "PK\x03\x04",
	} {
		f.Add([]byte(s))
	}
}

func FuzzReadCSV(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatCSV, data) })
}

func FuzzReadJSON(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatJSON, data) })
}

func FuzzReadText(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatText, data) })
}

func FuzzReadXLSX(f *testing.F) {
	seeds(f)
	f.Add(xlsxSeed(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatXLSX, data) })
}

func xlsxSeed(f *testing.F) []byte {
	x := excelize.NewFile()
	defer x.Close()
	x.SetSheetRow("Sheet1", "A1", &[]any{"手机", "证件"})
	x.SetSheetRow("Sheet1", "A2", &[]any{13812345678, "11010119900307123" + string(idCheck("11010119900307123"))})
	var b bytes.Buffer
	if err := x.Write(&b); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}
