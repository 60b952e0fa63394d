// Command gen writes the labelled synthetic corpus of package pii/corpus
// as files for bench/scan/run.sh: -files files of -size/-files bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/custos-dev/custos/pii/corpus"
)

func main() {
	size := flag.Int64("size", 1<<30, "total bytes to write")
	files := flag.Int("files", 16, "number of files")
	seed := flag.Int64("seed", 1, "generator seed")
	out := flag.String("out", "corpus", "directory to write")
	plain := flag.Bool("plain", false, "mostly prose, one record line in 100 (corpus.WritePlain)")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for i := range *files {
		p := filepath.Join(*out, fmt.Sprintf("part-%02d.txt", i))
		f, err := os.Create(p)
		if err == nil {
			write := corpus.Write
			if *plain {
				write = corpus.WritePlain
			}
			_, err = write(f, *size/int64(*files), *seed+int64(i))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
