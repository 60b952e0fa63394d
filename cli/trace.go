package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/postgres"
	"github.com/custos-dev/custos/store/sqlite"
	"github.com/custos-dev/custos/trace"
	"github.com/custos-dev/custos/trace/traceeval"
)

func newTraceCmd(e *env) *cobra.Command {
	var (
		flags     configFlags
		format    string
		threshold float64
		prior     float64
		noFP      bool
		proofs    bool
		suspects  int
		before    string
	)
	cmd := &cobra.Command{
		Use:   "trace LEAKED_FILE",
		Short: "Rank the exports and people a leaked file most likely came from",
		Long: `Reads a leaked file — CSV/TSV (any header, any column order), XLSX, JSON or
NDJSON, a plain text dump or a pasted chat log ('-' reads standard input)
— finds the ID numbers, phone numbers, e-mail addresses and other
identifiers in it, and asks the export registry and access index who
held those people: the data directory's, or the cluster's PostgreSQL
store when custos.yaml selects one (cluster.store.driver: postgres).
Exports and actors are ranked by a guilt model in the spirit of
Papadimitriou & Garcia-Molina (2011): a person many colleagues saw weighs
little, one only the suspect saw weighs a lot, and a suspect who held only
part of the file is discounted by the share they did not hold (records
nobody here held count against no one). Canary records and watermarks of
fingerprinted exports confirm a source.

--before TIME (RFC 3339, or a date meaning its midnight UTC) counts only
accesses and exports before TIME, typically when the leak was found: a
colleague who handled the same people afterwards is not a suspect.

A suspect is named only at or above --threshold; otherwise the verdict is
"no confident match". The report never shows a value from the file, only
export, actor and event IDs (with ledger proofs with --proofs).
See docs/tracing.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return &usageError{msg: fmt.Sprintf("unknown --format %q (want table or json)", format)}
			}
			if threshold < 0 || threshold > 1 || prior < 0 || prior >= 1 {
				return &usageError{msg: "--threshold must be in [0,1] and --prior in [0,1)"}
			}
			var cutoff time.Time
			if before != "" {
				var err error
				if cutoff, err = parseBefore(before); err != nil {
					return &usageError{msg: err.Error()}
				}
			}
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			key, err := blind.LoadKey(blind.KeyFile(cfg.DataDir))
			if err != nil {
				return err
			}
			index, err := blind.New(key)
			if err != nil {
				return err
			}
			src, closeSrc, err := traceSource(e.ctx, cfg)
			if err != nil {
				return err
			}
			defer closeSrc()
			tr := &trace.Tracer{
				Index: index, Source: src, Keyer: export.NewKeyer(key),
				NoFingerprints: noFP, Threshold: threshold, Prior: prior, Suspects: suspects, Before: cutoff,
			}
			if proofs {
				dir, _, err := ledgerDir(&flags)
				if err != nil {
					return err
				}
				var logSrc ledger.Fetcher // the POSIX log in dir
				if l := cfg.Cluster.Ledger; l.Driver == "mysql" {
					db, err := sql.Open("mysql", l.DSN)
					if err != nil {
						return errors.New("cluster.ledger.dsn: invalid mysql dsn")
					}
					defer db.Close()
					if logSrc, err = ledger.OpenMySQLLog(e.ctx, db); err != nil {
						return fmt.Errorf("cluster ledger: %w", err)
					}
				}
				tr.Proof = func(ctx context.Context, id string) (any, error) { return ledger.ProveEventIn(ctx, dir, logSrc, id) }
			}
			in, name := e.stdin, "stdin"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, args[0]
			}
			rep, err := tr.Trace(e.ctx, in, name)
			if err != nil {
				return err
			}
			if format == "json" {
				return rep.WriteJSON(e.stdout)
			}
			return rep.WriteTable(e.stdout)
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().Float64Var(&threshold, "threshold", trace.DefaultThreshold, "probability at or above which a suspect is named")
	cmd.Flags().Float64Var(&prior, "prior", trace.DefaultPrior, "least probability that a leaked record was obtainable elsewhere (the model's p)")
	cmd.Flags().BoolVar(&noFP, "no-fingerprints", false, "ignore canaries and watermarks (registry and access index only)")
	cmd.Flags().BoolVar(&proofs, "proofs", false, "attach ledger inclusion proofs to the evidence events")
	cmd.Flags().IntVar(&suspects, "suspects", 10, "suspects listed per ranking")
	cmd.Flags().StringVar(&before, "before", "", "count only accesses and exports before this time (RFC 3339 or YYYY-MM-DD, UTC), e.g. when the leak was found")
	return cmd
}

// traceSource is where a trace looks exports and accesses up: the
// cluster's PostgreSQL store when custos.yaml selects one, else a look-up
// session on the embedded store.
func traceSource(ctx context.Context, cfg config.Config) (trace.Source, func(), error) {
	if cfg.Cluster.Store.Driver == "postgres" {
		st, err := postgres.Open(ctx, cfg.Cluster.Store.DSN)
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close() }, nil
	}
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	lk, err := st.Lookup(ctx)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return lk, func() { lk.Close(); st.Close() }, nil
}

// parseBefore reads --before: an RFC 3339 time or a date (midnight UTC).
func parseBefore(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--before %q: want an RFC 3339 time (2026-11-29T09:00:00+08:00) or a date (2026-11-29)", s)
}

// traceEvalConfig sizes 'custos eval --trace': the organization
// (10,000 exports over 1 M people), or the small one with --quick. A
// variable so the command's test can run a tiny one.
var traceEvalConfig = func(quick bool) traceeval.Config {
	if quick {
		return traceeval.Quick()
	}
	return traceeval.Full()
}

// runTraceEval is 'custos eval --trace': leak tracing measured on a
// synthetic organization (package trace/traceeval).
func runTraceEval(e *env, quick bool, format string, strict bool) error {
	res, err := traceeval.Run(e.ctx, traceEvalConfig(quick))
	if err != nil {
		return err
	}
	switch format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	case "table":
		res.WriteTable(e.stdout)
	default:
		return &usageError{msg: fmt.Sprintf("unknown --format %q (want table or json)", format)}
	}
	if fails := res.Failures(); strict && len(fails) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("targets missed: %s", strings.Join(fails, "; "))}
	}
	return nil
}
