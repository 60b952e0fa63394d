package httpgw

import (
	"testing"

	"github.com/custos-dev/custos"
)

func TestColumnType(t *testing.T) {
	rows := [][]string{
		{"王伟", "11010119900307123X", "13812345678", "A12", "x"},
		{"李娜", "110101198001010029", "", "B7", "13912345678"},
		{"张敏", "440306198512120026", "13712345678", "C1"},
	}
	for j, tc := range []struct {
		name string
		want custos.DataType
	}{
		{"name", custos.TypeCNName},    // by its name
		{"id_number", custos.TypeCNID}, // the name says nothing: by its values
		{"contact", custos.TypeCNMobile},
		{"seat", ""},
		{"notes", ""}, // one value of two (and a short row): not enough
	} {
		if got := columnType(tc.name, rows, j); got != tc.want {
			t.Errorf("column %q: %q, want %q", tc.name, got, tc.want)
		}
	}
}
