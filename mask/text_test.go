package mask_test

import (
	"strings"
	"testing"

	"github.com/custos-dev/custos/mask"
)

func TestText(t *testing.T) {
	got := mask.Text(`strconv.ParseFloat: parsing "13812345678x": invalid syntax; id 11010519491231002X`)
	if strings.Contains(got, "11010519491231002X") || !strings.Contains(got, "110105********002X") {
		t.Errorf("mask.Text: %s", got)
	}
	if got := mask.Text("zip: not a valid zip file"); got != "zip: not a valid zip file" {
		t.Errorf("mask.Text changed a message without personal data: %s", got)
	}
}
