package approval

import (
	"strings"
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	rules, err := ParseRules("r.yaml", []byte(`rules:
  - id: credit-by-dpo
    kinds: [unmask, export]
    categories: [credit]
    approver_roles: [privacy_officer]
    max_duration: 2h
  - id: supervisors
    approver_roles: [supervisor]
    required: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].MaxDuration != 2*time.Hour || rules[0].Kinds[1] != KindExport {
		t.Fatalf("%+v", rules)
	}
	for doc, want := range map[string]string{
		"rules:\n  - id: a\n    approvers: [x]\n    aprover_roles: [y]\n": "r.yaml:4:5",
		"rules:\n  - id: a\n": "approver_roles or approvers required",
		"rules:\n  - id: a\n    approvers: [x]\n    max_duration: soon\n": `r.yaml: time: invalid duration "soon"`,
		"rules:\n !0 #000\n": "r.yaml",
	} {
		if _, err := ParseRules("r.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte("rules:\n  - {id: a, approvers: [x], max_duration: 1h}\n"))
	f.Add([]byte("rules:\n !0 #000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules("f.yaml", data)
		if err == nil {
			if _, err := New(rules); err != nil {
				t.Fatalf("parsed rules fail New: %v", err)
			}
		}
	})
}
