package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/scan"
	"github.com/custos-dev/custos/scan/dbscan"
)

// exitFindings is the exit code of `custos scan --fail-on-findings` when
// something was found.
const exitFindings = 3

func newScanCmd(e *env) *cobra.Command {
	var (
		format         string
		reveal         bool
		failOnFindings bool
		verbose        bool
		noProgress     bool
		sample         int
		workers        int
		minConfidence  float64
	)
	cmd := &cobra.Command{
		Use:   "scan PATH|DSN…",
		Short: "Find personal information in files, archives and databases",
		Long: `Scan files, directories, archives and databases for personal information
(ID numbers, phone numbers, bank cards, e-mail addresses, names,
addresses and the rest of the vocabulary), validated by checksums and
structure, with a confidence for each finding.

Files: plain text of any kind (txt, log, csv, tsv, json, jsonl, xml,
html), gzip, bzip2, tar, zip (recursively: a.zip!inner/file.csv), xlsx
(findings name the cell), docx and pptx (findings name the part). Binary
files and PDFs are skipped with a note. '-' reads standard input.

Databases: postgres://…, mysql://…, sqlite:PATH. Every table is sampled
(--sample rows) in one read-only transaction and each column is
classified by its values and its name; findings carry table, column,
confidence, row estimate and sensitivity level. No data is copied out.

Values are masked in every format unless --reveal is given.

Exit status: 0 the scan ran (with or without findings; unreadable files
inside directories are reported on stderr and counted in the summary);
1 an input named on the command line could not be scanned (missing path,
database unreachable) or the output failed; 2 usage error; 3 findings
were reported and --fail-on-findings was given.`,
		Example: `  custos scan ./exports
  custos scan --format jsonl dump.zip > findings.jsonl
  custos scan --format sarif --fail-on-findings src/ > custos.sarif
  custos scan postgres://auditor@db.internal:5432/crm --sample 5000
  custos scan sqlite:app.db mysql://ro@127.0.0.1:3306/shop`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(scan.Formats, format) {
				return &usageError{msg: fmt.Sprintf("unknown --format %q (want one of %s)", format, strings.Join(scan.Formats, ", "))}
			}
			if minConfidence < 0 || minConfidence > 1 {
				return &usageError{msg: "--min-confidence must be between 0 and 1"}
			}
			w, err := scan.NewWriter(e.stdout, e.stderr, format, Version, verbose)
			if err != nil {
				return err
			}
			opt := scan.Options{Workers: workers, Reveal: reveal, MinConfidence: minConfidence}
			if f, ok := e.stderr.(*os.File); ok && !noProgress && isatty.IsTerminal(f.Fd()) {
				opt.Progress = f
			}
			dbOpt := dbscan.Options{Sample: sample, Reveal: reveal, MinConfidence: minConfidence}

			var sum scan.Summary
			var failed []string
			var paths []string
			flush := func() error {
				if len(paths) == 0 {
					return nil
				}
				s, err := scan.Files(e.ctx, paths, opt, w)
				sum.Merge(s)
				paths = nil
				return err
			}
			for _, arg := range args {
				switch {
				case dbscan.IsDSN(arg):
					if err := flush(); err != nil {
						return err
					}
					s, err := dbscan.Scan(e.ctx, arg, dbOpt, w)
					sum.Merge(s)
					if err != nil {
						fmt.Fprintln(e.stderr, "error:", err)
						failed = append(failed, arg)
					}
				case arg == "-":
					if err := flush(); err != nil {
						return err
					}
					s, err := scan.Reader(e.ctx, e.stdin, "-", opt, w)
					sum.Merge(s)
					if err != nil {
						return err
					}
				default:
					if _, err := os.Stat(arg); err != nil {
						failed = append(failed, arg)
					}
					paths = append(paths, arg)
				}
			}
			if err := flush(); err != nil {
				return err
			}
			if err := w.Close(sum); err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("scan: %d of %d inputs could not be scanned", len(failed), len(args))
			}
			if failOnFindings && sum.Findings > 0 {
				return &exitError{code: exitFindings, err: errors.New("scan: personal information found")}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "f", "table", "output format: "+strings.Join(scan.Formats, ", "))
	fl.BoolVar(&reveal, "reveal", false, "print raw values instead of masked ones (the output then holds personal data)")
	fl.BoolVar(&failOnFindings, "fail-on-findings", false, "exit with status 3 when anything is found (for CI)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "also report skipped files (binary, pdf) on stderr")
	fl.BoolVar(&noProgress, "no-progress", false, "no progress display even on a terminal")
	fl.IntVar(&sample, "sample", 1000, "rows sampled from each database table")
	fl.IntVar(&workers, "workers", 0, "detector goroutines (default: all cores)")
	fl.Float64Var(&minConfidence, "min-confidence", 0, "drop findings below this confidence (0..1)")
	return cmd
}
