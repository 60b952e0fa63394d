package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/pii/corpus"
)

// collectSink keeps everything it is given.
type collectSink struct {
	findings []Finding
	notes    []Note
}

func (c *collectSink) Finding(f Finding) error { c.findings = append(c.findings, f); return nil }
func (c *collectSink) Note(n Note) error       { c.notes = append(c.notes, n); return nil }

const filesDir = "testdata/files"

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

func fixtures(t *testing.T) {
	t.Helper()
	if *update {
		writeFixtures(t, filesDir)
	}
}

// TestChunksMatchWholeText scans generated text in small chunks and
// requires exactly the matches the detectors find on the whole text: no
// match lost or duplicated at a chunk boundary, offsets in file bytes.
func TestChunksMatchWholeText(t *testing.T) {
	text, _ := corpus.Generate(7, 600<<10)
	path := filepath.Join(t.TempDir(), "corpus.txt")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	want := pii.Find(text)
	for _, tc := range []struct {
		name    string
		chunk   int
		workers int
	}{
		{"min chunk one worker", 1, 1},
		{"5000 bytes four workers", 5000, 4},
		{"64KiB two workers", 64 << 10, 2},
		{"default", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got collectSink
			sum, err := Files(context.Background(), []string{path}, Options{ChunkSize: tc.chunk, Workers: tc.workers, Reveal: true}, &got)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Bytes != int64(len(text)) || sum.Files != 1 {
				t.Errorf("summary: %d bytes %d files, want %d bytes 1 file", sum.Bytes, sum.Files, len(text))
			}
			if len(got.findings) != len(want) {
				t.Fatalf("%d findings, want %d", len(got.findings), len(want))
			}
			for i, f := range got.findings {
				w := want[i]
				if f.Offset != int64(w.Offset) || f.Length != w.Length || f.Type != w.Type || f.Confidence != w.Confidence {
					t.Fatalf("finding %d: %s@%d+%d (%.2f), want %s@%d+%d (%.2f)", i, f.Type, f.Offset, f.Length, f.Confidence, w.Type, w.Offset, w.Length, w.Confidence)
				}
				if f.Value != string(text[f.Offset:f.Offset+int64(f.Length)]) {
					t.Fatalf("finding %d: value does not match the file bytes at its offset", i)
				}
			}
		})
	}
}

// TestFormats checks where findings are located in each format.
func TestFormats(t *testing.T) {
	fixtures(t)
	var got collectSink
	sum, err := Files(context.Background(), []string{filesDir}, Options{Reveal: true, Workers: 2}, &got)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ path, location, typ, value string }
	have := map[key]Finding{}
	for _, f := range got.findings {
		have[key{strings.TrimPrefix(f.Path, filesDir+"/"), f.Location, f.Type, f.Value}] = f
	}
	for _, tc := range []struct {
		key
		offset int64
	}{
		{key{"notes.txt", "", "cn_mobile", fxMobile}, int64(strings.Index(fxNotes, fxMobile))},
		{key{"notes.txt", "", "cn_id", fxID}, int64(strings.Index(fxNotes, fxID))},
		{key{"notes.txt", "", "email", fxEmail}, int64(strings.Index(fxNotes, fxEmail))},
		{key{"people.csv", "", "cn_id", fxID}, int64(strings.Index(fxCSV, fxID))},
		{key{"app.log.gz!app.log", "", "cn_mobile", fxMobile}, int64(len("2024-05-01 login ok phone="))},
		{key{"logs.tgz!logs.tar!logs/a.log", "", "email", fxEmail}, 5},
		{key{"bundle.zip!inner/people.csv", "", "cn_mobile", fxMobile2}, int64(strings.Index(fxCSV, fxMobile2))},
		{key{"bundle.zip!nested.zip!deep.txt", "", "cn_id", fxID}, int64(len("身份证号码 "))},
		{key{"bundle.zip!data.txt.gz!data.txt", "", "bank_card", fxCard}, int64(len("卡号 "))},
		{key{"book.xlsx", "Sheet1!B2", "cn_mobile", fxMobile}, 0},
		{key{"book.xlsx", "Sheet1!C2", "cn_id", fxID}, 0},
		{key{"book.xlsx", "Sheet1!B4", "cn_mobile", fxMobile2}, 0},
		{key{"book.xlsx", "'客户 list'!C3", "email", fxEmail}, int64(len("邮箱 "))},
		{key{"deck.pptx", "ppt/slides/slide1.xml", "cn_mobile", fxMobile2}, int64(len("值班电话\n手机："))},
		{key{"letter.docx", "word/document.xml", "email", fxEmail}, int64(len("尊敬的客户：\n您的手机号 13812345678 已登记。\nE-mail: "))},
	} {
		f, ok := have[tc.key]
		if !ok {
			t.Errorf("missing %+v", tc.key)
			continue
		}
		if f.Offset != tc.offset || f.Length != len(tc.value) {
			t.Errorf("%+v at %d+%d, want %d+%d", tc.key, f.Offset, f.Length, tc.offset, len(tc.value))
		}
	}
	// Plain files: the bytes at offset are the value.
	for _, f := range got.findings {
		if strings.Contains(f.Path, "!") || f.Location != "" {
			continue
		}
		data, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if string(data[f.Offset:f.Offset+int64(f.Length)]) != f.Value {
			t.Errorf("%s@%d: bytes differ from the value", f.Path, f.Offset)
		}
	}
	notes := map[string]string{}
	for _, n := range got.notes {
		notes[strings.TrimPrefix(n.Path, filesDir+"/")] = n.Kind
	}
	for path, kind := range map[string]string{
		"image.bin":              NoteSkipped,
		"broken.zip":             NoteError,
		"truncated.gz!truncated": NoteError,
	} {
		if notes[path] != kind {
			t.Errorf("note for %s: %q, want %q (notes %v)", path, notes[path], kind, got.notes)
		}
	}
	if sum.Errors != 2 || sum.Skipped != 1 {
		t.Errorf("summary: %d errors %d skipped, want 2 and 1", sum.Errors, sum.Skipped)
	}
	// The negatives in notes.txt are not findings.
	for _, f := range got.findings {
		if strings.Contains(f.Value, "ORDER") || strings.Contains(f.Value, "SF12") {
			t.Errorf("hard negative reported: %s %s", f.Type, f.Value)
		}
	}
}

// TestMasked checks that without Reveal no output carries a raw value.
func TestMasked(t *testing.T) {
	fixtures(t)
	for _, format := range Formats {
		var out, notes bytes.Buffer
		w, err := NewWriter(&out, &notes, format, "test", true)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Files(context.Background(), []string{filesDir}, Options{}, w)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(sum); err != nil {
			t.Fatal(err)
		}
		for _, raw := range []string{fxID, fxMobile, fxMobile2, fxCard, fxEmail, "10.1.2.3"} {
			if bytes.Contains(out.Bytes(), []byte(raw)) || bytes.Contains(notes.Bytes(), []byte(raw)) {
				t.Errorf("%s: raw value %s in output", format, raw[:3]+"…")
			}
		}
	}
}

func TestJSONLFields(t *testing.T) {
	fixtures(t)
	var out bytes.Buffer
	w, _ := NewWriter(&out, nil, "jsonl", "test", false)
	sum, err := Files(context.Background(), []string{filesDir + "/notes.txt"}, Options{}, w)
	if err != nil {
		t.Fatal(err)
	}
	w.Close(sum)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != sum.Findings || len(lines) == 0 {
		t.Fatalf("%d lines for %d findings", len(lines), sum.Findings)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"path", "offset", "length", "type", "confidence", "value"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line lacks %s: %s", k, l)
			}
		}
	}
}

func TestMissingPathIsANote(t *testing.T) {
	var got collectSink
	sum, err := Files(context.Background(), []string{"testdata/does-not-exist"}, Options{}, &got)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 1 || len(got.notes) != 1 || got.notes[0].Kind != NoteError {
		t.Fatalf("notes %v, summary errors %d", got.notes, sum.Errors)
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head string
		want kind
	}{
		{"plain text\n", kindText},
		{"", kindText},
		{"\x1f\x8b\x08", kindGzip},
		{"PK\x03\x04", kindZip},
		{"%PDF-1.7", kindPDF},
		{"abc\x00def", kindBinary},
		{"1\x003\x008\x00,\x00\xe0\x4e\r\x00\n\x00", kindText}, // UTF-16LE without a byte order mark
		{"\x00\x00\x00\x01\x00\x02\x00\x03\x00\x04", kindBinary},
		{"\x01\x02\x03\x04abc", kindBinary},
		{"\xb9\xfe\xb6\xfb 13812345678", kindText}, // GBK
		{"\xfd7zXZ\x00", kindUnsupported},
	} {
		if got, _ := sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("sniff(%q) = %d, want %d", tc.head, got, tc.want)
		}
	}
}

func TestProgress(t *testing.T) {
	fixtures(t)
	var p bytes.Buffer
	_, err := Files(context.Background(), []string{filesDir + "/notes.txt"}, Options{Progress: &p}, &collectSink{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.String(), "\rscanning") || !strings.Contains(p.String(), "1/1 files") || !strings.HasSuffix(p.String(), "\n") {
		t.Errorf("progress output %q", p.String())
	}
}

// childID returns a valid resident ID of someone born on birth.
func childID(birth string) string {
	body := "110105" + birth + "123"
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(body[i]-'0') * w[i]
	}
	return body + string("10X98765432"[sum%11])
}

func TestMinorByID(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{childID("20200601"), true},
		{childID("20120602"), true},  // 14 tomorrow
		{childID("20120601"), false}, // 14 today
		{fxID, false},
		{"110105 2020 0601 " + childID("20200601")[14:], true}, // grouped
		{"not an id", false},
	} {
		if got := MinorByID(tc.id, now); got != tc.want {
			t.Errorf("MinorByID(%s…) = %v, want %v", tc.id[:10], got, tc.want)
		}
	}
}

func TestMinorCategory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "students.txt")
	os.WriteFile(path, []byte("学生身份证 "+childID("20200601")+"\n家长身份证 "+fxID+"\n"), 0o644)
	var got collectSink
	if _, err := Files(context.Background(), []string{path}, Options{}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.findings) != 2 || got.findings[0].Category != "minor" || !got.findings[0].Sensitive || got.findings[1].Category != "identity" {
		t.Errorf("findings %+v", got.findings)
	}
}
