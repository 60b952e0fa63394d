package blind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-dev/custos"
)

func testIndex(t *testing.T) *Index {
	t.Helper()
	x, err := New([]byte(strings.Repeat("k", KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestHashNormalizes(t *testing.T) {
	x := testIndex(t)
	tests := []struct {
		name string
		typ  string
		a, b string
	}{
		{"id lower x", custos.TypeCNID, "11010119900307123x", "11010119900307123X"},
		{"id full-width", custos.TypeCNID, "１１０１０１１９９００３０７１２３X", "11010119900307123X"},
		{"mobile +86 spaces", custos.TypeCNMobile, "+86 138 0013 8000", "13800138000"},
		{"mobile 0086 dashes", custos.TypeCNMobile, "0086-138-0013-8000", "13800138000"},
		{"mobile chinese numerals", custos.TypeCNMobile, "一三八〇〇一三八〇〇〇", "13800138000"},
		{"email case", custos.TypeEmail, " Zhang.San@Example.COM ", "zhang.san@example.com"},
		{"card spaces", custos.TypeBankCard, "6222 0212 3456 7890", "6222021234567890"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha, err := x.Hash(tt.typ, tt.a)
			if err != nil {
				t.Fatal(err)
			}
			hb, err := x.Hash(tt.typ, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if ha != hb {
				t.Errorf("Hash(%q) != Hash(%q)", tt.a, tt.b)
			}
		})
	}
}

func TestHashSeparatesTypesAndKeys(t *testing.T) {
	x := testIndex(t)
	y, _ := New([]byte(strings.Repeat("z", KeySize)))
	a, _ := x.Hash(custos.TypeBankCard, "13800138000")
	b, _ := x.Hash(custos.TypeCNMobile, "13800138000")
	c, _ := y.Hash(custos.TypeCNMobile, "13800138000")
	if a == b || b == c {
		t.Fatalf("hashes collide across types or keys: %s %s %s", a, b, c)
	}
}

func TestSealRemovesValues(t *testing.T) {
	x := testIndex(t)
	ev := custos.AccessEvent{Subjects: []custos.Subject{
		{Type: custos.TypeCNID, Value: "11010119900307123X"},
		{Type: custos.TypeCNMobile, Value: "13800138000"},
	}}
	if err := x.Seal(&ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Sealed() {
		t.Fatal("event not sealed")
	}
	for _, s := range ev.Subjects {
		if len(s.Hash) != 64 {
			t.Errorf("hash %q is not 64 hex characters", s.Hash)
		}
		if strings.Contains(s.Masked, "11010119900307123X") || strings.Contains(s.Masked, "13800138000") {
			t.Errorf("masked form %q reveals the value", s.Masked)
		}
	}
	if got := ev.Subjects[1].Masked; got != "138****8000" {
		t.Errorf("masked mobile = %q, want 138****8000", got)
	}
}

func TestSealRejectsMalformedWithoutValue(t *testing.T) {
	x := testIndex(t)
	ev := custos.AccessEvent{Subjects: []custos.Subject{{Type: custos.TypeCNID, Value: "1234567"}}}
	err := x.Seal(&ev)
	if err == nil {
		t.Fatal("want error for a 7-digit ID")
	}
	if strings.Contains(err.Error(), "1234567") {
		t.Errorf("error %q contains the value", err)
	}
	if !strings.Contains(err.Error(), "subjects[0].value") {
		t.Errorf("error %q does not name the field", err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := KeyFile(dir)
	if err := CreateKey(path); err != nil {
		t.Fatal(err)
	}
	if err := CreateKey(path); err == nil {
		t.Fatal("CreateKey overwrote an existing key")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	key, err := LoadKey(path)
	if err != nil || len(key) != KeySize {
		t.Fatalf("LoadKey: %v (len %d)", err, len(key))
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); err == nil {
		t.Error("LoadKey accepted a world-readable key")
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "custos init") {
		t.Errorf("missing key error %v should point to custos init", err)
	}
}
