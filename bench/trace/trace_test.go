package main

import (
	"context"
	"os"
	"testing"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/trace"
)

// BenchmarkTrace traces $TRACEBENCH_FILE against the data directory
// $TRACEBENCH_DATA prepared by this command; skipped when they are unset.
func BenchmarkTrace(b *testing.B) {
	data, file := os.Getenv("TRACEBENCH_DATA"), os.Getenv("TRACEBENCH_FILE")
	if data == "" || file == "" {
		b.Skip("set TRACEBENCH_DATA and TRACEBENCH_FILE (go run ./bench/trace)")
	}
	ctx := context.Background()
	key, err := blind.LoadKey(blind.KeyFile(data))
	if err != nil {
		b.Fatal(err)
	}
	index, _ := blind.New(key)
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lk, err := st.Lookup(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer lk.Close()
	tr := &trace.Tracer{Index: index, Source: lk, Keyer: export.NewKeyer(key)}
	for b.Loop() {
		f, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tr.Trace(ctx, f, file); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
