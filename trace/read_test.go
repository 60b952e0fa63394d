package trace

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos"
)

var (
	testIDs     []string
	testMobiles = []string{"13812345678", "15900001111", "18611112222"}
)

func init() {
	for _, body := range []string{"11010119900307123", "31010119851212004", "44030519770101555"} {
		testIDs = append(testIDs, body+string(idCheck(body)))
	}
}

func idCheck(body string) byte {
	w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * w[i]
	}
	return "10X98765432"[sum%11]
}

type found struct {
	line  int
	types []custos.DataType
	norms []string
}

func readAll(t *testing.T, f Format, data []byte) []found {
	t.Helper()
	var out []found
	err := Read(context.Background(), bytes.NewReader(data), f, func(r *Record) error {
		fd := found{line: r.Line}
		for _, o := range r.IDs {
			fd.types = append(fd.types, o.Type)
			fd.norms = append(fd.norms, o.Normalized)
		}
		out = append(out, fd)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func xlsxBytes(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRead(t *testing.T) {
	m0, m1, m2 := testMobiles[0], testMobiles[1], testMobiles[2]
	i0, i1 := testIDs[0], testIDs[1]
	for _, tc := range []struct {
		name   string
		format Format
		data   string
		want   [][]string // normalized identifiers per record
	}{
		{"csv odd headers and order", FormatCSV,
			"\ufeffcol_7,备注,联系方式,ZJHM\n" + "x,VIP," + "138 1234 5678," + i0 + "\n" + "y,,+86 159-0000-1111," + strings.ToLower(i1) + "\n",
			[][]string{{m0, i0}, {m1, i1}}},
		{"csv no header, tab separated", FormatCSV,
			i0 + "\t王伟\t" + m2 + "\n",
			[][]string{{i0, m2}}},
		{"csv semicolon, quoted", FormatCSV,
			"name;phone\n\"Li, Wei\";\"" + m1 + "\"\n",
			[][]string{{m1}}},
		{"json array", FormatJSON,
			`[{"tel":"` + m0 + `","id":"` + i0 + `"},{"tel":` + m1 + `}]`,
			[][]string{{m0, i0}, {m1}}},
		{"ndjson nested", FormatJSON,
			`{"data":{"people":[{"p":"` + m2 + `"}]}}` + "\n" + `{"mail":"wei.li@corp.example.com"}`,
			[][]string{{m2}, {"wei.li@corp.example.com"}}},
		{"chat log", FormatText,
			"[10:02] 老王: 张伟 138 1234 5678 身份证" + i0 + "\n[10:03] 小李: 收到\n[10:05] 老王: 李娜 电话15900001111\n",
			[][]string{{m0, i0}, {m1}}},
		{"text dump", FormatText,
			m0 + "|" + i1 + "|北京\n" + "\n" + "garbage line 12345\n",
			[][]string{{m0, i1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, tc.format, []byte(tc.data))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if strings.Join(got[i].norms, ",") != strings.Join(tc.want[i], ",") {
					t.Errorf("record %d: got %v, want %v", i, got[i].norms, tc.want[i])
				}
			}
		})
	}
	t.Run("xlsx", func(t *testing.T) {
		data := xlsxBytes(t, [][]any{{"序号", "手机", "身份证"}, {1, m0, i0}, {2, 15900001111, i1}})
		got := readAll(t, FormatXLSX, data)
		if len(got) != 2 || got[1].norms[0] != m1 || got[0].norms[1] != i0 {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		want Format
	}{
		{"a.csv", "", FormatCSV},
		{"a.TSV", "", FormatCSV},
		{"leak.xlsx", "", FormatXLSX},
		{"leak", "PK\x03\x04....", FormatXLSX},
		{"leak.txt", "  [{\"a\":1}]", FormatJSON},
		{"dump", "\ufeff{\"a\":1}", FormatJSON},
		{"chat.txt", "[10:02] 老王: hi", FormatText},
	} {
		if got := DetectFormat(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %s, want %s", tc.name, tc.head, got, tc.want)
		}
	}
}
