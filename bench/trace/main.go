// Command trace prepares a data directory and a leaked file for timing
// 'custos trace' on a 1 M-line leak (docs/tracing.md, docs/benchmarks.md):
//
//	go run ./bench/trace -dir /tmp/tracebench -lines 1000000
//	time custos trace --data /tmp/tracebench/data /tmp/tracebench/leak.csv
//
// The store gets one access event per 5 people (by 200 actors) and one
// export per 1,000 people, both with ID number and mobile as subjects; the
// leak is -lines rows (name, ID, mobile, city), 90% people the store knows,
// 10% unknown, in random order.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/store/sqlite"
)

func main() {
	dir := flag.String("dir", "/tmp/tracebench", "output directory (data/ and leak.csv)")
	lines := flag.Int("lines", 1_000_000, "lines in the leaked file")
	flag.Parse()
	if err := run(context.Background(), *dir, *lines); err != nil {
		log.Fatal(err)
	}
}

func mobile(i int) string { return fmt.Sprintf("13%d%08d", 5+i%5, i) }

func idNo(i int) string {
	day := (i / 1000) % 16000
	bt := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	body := fmt.Sprintf("%s%s%03d", []string{"110101", "310101", "440103"}[(i/16_000_000)%3], bt.Format("20060102"), i%1000)
	w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k := 0; k < 17; k++ {
		sum += int(body[k]-'0') * w[k]
	}
	return body + string("10X98765432"[sum%11])
}

func run(ctx context.Context, dir string, lines int) error {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	keyPath := blind.KeyFile(data)
	if _, err := os.Stat(keyPath); err != nil {
		if err := blind.CreateKey(keyPath); err != nil {
			return err
		}
	}
	key, err := blind.LoadKey(keyPath)
	if err != nil {
		return err
	}
	index, err := blind.New(key)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	known := lines * 9 / 10
	start := time.Now()
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	subjects := func(i int) []custos.Subject {
		a, _ := index.Hash("cn_id", idNo(i))
		b, _ := index.Hash("cn_mobile", mobile(i))
		return []custos.Subject{{Type: "cn_id", Hash: a}, {Type: "cn_mobile", Hash: b}}
	}
	var batch []custos.AccessEvent
	for p := 0; p < known; p += 5 {
		e := custos.AccessEvent{ID: fmt.Sprintf("ev-%d", p), Time: t0.Add(time.Duration(p) * time.Second),
			Actor: custos.Actor{ID: fmt.Sprintf("emp-%03d", (p/5)%200)}, Channel: custos.ChannelPostgres,
			Action: custos.ActionRead, Resource: custos.Resource{System: "crm", Object: "customers"}, Records: 5,
			Decision: custos.DecisionAllow, Outcome: custos.OutcomeSuccess}
		for q := p; q < min(p+5, known); q++ {
			e.Subjects = append(e.Subjects, subjects(q)...)
		}
		batch = append(batch, e)
		if len(batch) == 2000 {
			if _, err := st.AppendAccess(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if _, err := st.AppendAccess(ctx, batch); err != nil {
		return err
	}
	for x := 0; x*1000 < known; x++ {
		e := export.Export{ID: fmt.Sprintf("exp-%04d", x), Actor: fmt.Sprintf("emp-%03d", x%200), Time: t0.Add(time.Duration(x) * time.Hour),
			Channel: custos.ChannelHTTP, System: "crm", Format: "csv", Rows: 1000}
		for p := x * 1000; p < min((x+1)*1000, known); p++ {
			e.Subjects = append(e.Subjects, subjects(p)...)
		}
		if err := st.RegisterExport(ctx, e); err != nil {
			return err
		}
	}
	fmt.Printf("store: %d people in %d events and %d exports, %s\n", known, (known+4)/5, (known+999)/1000, time.Since(start).Round(time.Millisecond))

	f, err := os.Create(filepath.Join(dir, "leak.csv"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "姓名,证件号码,手机号,城市")
	r := rand.New(rand.NewPCG(1, 2))
	order := r.Perm(lines)
	for _, i := range order {
		p := i
		if i >= known {
			p = 50_000_000 + i // unknown people
		}
		fmt.Fprintf(w, "王%c,%s,%s,北京\n", []rune("伟芳娜敏静强")[p%6], idNo(p), mobile(p))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fi, _ := os.Stat(f.Name())
	fmt.Printf("leak: %d lines, %d bytes at %s\n", lines, fi.Size(), f.Name())
	return nil
}
