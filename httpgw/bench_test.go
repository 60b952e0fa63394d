package httpgw

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/custos-dev/custos/catalog"
)

func benchPage() []byte {
	var items []map[string]any
	for i := range 22 {
		items = append(items, map[string]any{"idNo": cnID(i), "name": "张伟明", "mobile": mobile(i),
			"email": fmt.Sprintf("passenger%d@example.com", i), "seat": "12A", "flight": "CA1234", "status": "checked-in",
			"note": fmt.Sprintf("VIP; call %s before boarding; meal: vegetarian; bags: 2; loyalty gold member since 2015", mobile(i+100)), "fare": 1280 + i})
	}
	b, _ := json.Marshal(map[string]any{"total": len(items), "page": 1, "items": items})
	return b
}

// BenchmarkInspectJSON10KB is the inspection and masking of one 10 KB
// page, the gateway's own work per response.
func BenchmarkInspectJSON10KB(b *testing.B) {
	page := benchPage()
	in, vm := testMasker(b)
	fields := map[string]catalog.Field{
		"$.items[*].idNo":   {Type: "cn_id", SubjectKey: true},
		"$.items[*].name":   {Type: "cn_name"},
		"$.items[*].mobile": {Type: "cn_mobile"},
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		in.reset(fields)
		apply, ok := prepareJSON(page, in)
		if !ok {
			b.Fatal("not JSON")
		}
		if _, err := apply(vm); err != nil {
			b.Fatal(err)
		}
	}
}
