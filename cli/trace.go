package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/ledger"
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
	)
	cmd := &cobra.Command{
		Use:   "trace LEAKED_FILE",
		Short: "Rank the exports and people a leaked file most likely came from",
		Long: `Reads a leaked file — CSV/TSV (any header, any column order), XLSX, JSON or
NDJSON, a plain text dump or a pasted chat log ('-' reads standard input)
— finds the ID numbers, phone numbers, e-mail addresses and other
identifiers in it, and asks the data directory's export registry and
access index who held those people. Exports and actors are ranked by a
guilt model in the spirit of Papadimitriou & Garcia-Molina (2011): a person
many colleagues saw weighs little, one only the suspect saw weighs a lot,
and a suspect who held only part of the file is discounted by the share
they did not hold (records nobody here held count against no one). Canary
records and watermarks of fingerprinted exports confirm a source.

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
			st, err := sqlite.Open(e.ctx, cfg.DataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			lk, err := st.Lookup(e.ctx)
			if err != nil {
				return err
			}
			defer lk.Close()
			tr := &trace.Tracer{
				Index: index, Source: lk, Keyer: export.NewKeyer(key),
				NoFingerprints: noFP, Threshold: threshold, Prior: prior, Suspects: suspects,
			}
			if proofs {
				dir, _, err := ledgerDir(&flags)
				if err != nil {
					return err
				}
				tr.Proof = func(ctx context.Context, id string) (any, error) { return ledger.ProveEvent(ctx, dir, id) }
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
	return cmd
}

// runTraceEval is 'custos eval --trace': leak tracing measured on a
// synthetic organization (package trace/traceeval).
func runTraceEval(e *env, quick bool, format string, strict bool) error {
	cfg := traceeval.Full()
	if quick {
		cfg = traceeval.Quick()
	}
	res, err := traceeval.Run(e.ctx, cfg)
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
