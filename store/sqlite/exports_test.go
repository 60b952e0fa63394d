package sqlite

import (
	"testing"

	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/store/storetest"
)

func TestSubjectKeyIsExportKey(t *testing.T) {
	k := export.KeyOf("cn_mobile", "abc")
	if string(subjectKey("cn_mobile", "abc")) != string(k[:]) {
		t.Fatal("export.KeyOf and subjectKey differ: batched look-ups would find nothing")
	}
}

func TestExports(t *testing.T) {
	storetest.RunExports(t, func(t *testing.T) storetest.ExportStore { return openTest(t) })
}
