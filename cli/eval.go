package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/detect"
	"github.com/custos-dev/custos/detect/eval"
	"github.com/custos-dev/custos/sim"
)

func newEvalCmd(e *env) *cobra.Command {
	var (
		employees, days int
		format, only    string
		events          string
		strict          bool
		traceMode       bool
		traceQuick      bool
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Run the detection scenario suite and print detection quality",
		Long: `Generates every scenario of the suite (synthetic organizations with injected
insiders and attackers, and benign surprises), feeds the events to the
detection engine with its default rules and prints, per scenario and
overall: detected or missed, time to detect, true and false alerts, false
alerts per 1,000 employee-days and precision. Seeds are fixed, so results
are reproducible. With --strict, exits 1 unless every injected scenario is
caught, false alerts stay at or below 1 per 1,000 employee-days and the
crawler and stuffing scenarios are caught within 5 simulated minutes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if traceMode {
				return runTraceEval(e, traceQuick, format, strict)
			}
			suite := sim.Suite(employees, days)
			if only != "" {
				var keep []*sim.Scenario
				for _, sc := range suite {
					if strings.Contains(sc.Name, only) {
						keep = append(keep, sc)
					}
				}
				suite = keep
			}
			if events != "" {
				return writeEvalEvents(e, events, suite)
			}
			rep, err := eval.Run(e.ctx, suite, detect.DefaultConfig())
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			case "table":
				printEval(e, rep)
			default:
				return &usageError{msg: fmt.Sprintf("unknown --format %q (want table or json)", format)}
			}
			if strict {
				if fails := evalFailures(rep); len(fails) > 0 {
					return &exitError{code: 1, err: fmt.Errorf("targets missed: %s", strings.Join(fails, "; "))}
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&employees, "employees", 60, "employees per scenario organization")
	cmd.Flags().IntVar(&days, "days", 30, "simulated days per scenario")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&only, "scenario", "", "run only scenarios whose name contains this")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 when a target is missed")
	cmd.Flags().StringVar(&events, "write-events", "", "instead of evaluating, write the scenarios' sealed events to this NDJSON file (input for 'custos detect --replay')")
	cmd.Flags().BoolVar(&traceMode, "trace", false, "evaluate leak tracing instead (synthetic organization, 10,000 exports over 1 M people; see docs/tracing.md)")
	cmd.Flags().BoolVar(&traceQuick, "quick", false, "with --trace: a small organization (seconds instead of minutes)")
	return cmd
}

func printEval(e *env, rep eval.Report) {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tKIND\tTYPE\tRESULT\tTIME TO DETECT\tTRUE\tFALSE\tEMPLOYEE-DAYS\tFALSE/1000\tPRECISION\tRULES")
	for _, r := range rep.Results {
		typ, result, ttd := "benign", "-", "-"
		if r.Malicious {
			typ, result = "injected", "MISS"
			if r.Detected {
				result, ttd = "hit", fmtDuration(r.TimeToDetect)
			}
		}
		rules := strings.Join(r.TrueRules, ",")
		if len(r.FalseRules) > 0 {
			rules += " false:" + strings.Join(r.FalseRules, ",")
		}
		precision := "-"
		if r.Precision != nil {
			precision = fmt.Sprintf("%.2f", *r.Precision)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.2f\t%s\t%s\n", r.Scenario, r.Kind, typ, result, ttd, r.TrueAlerts, r.FalseAlerts, r.EmployeeDays, r.FalsePer1000, precision, rules)
	}
	w.Flush()
	fmt.Fprintf(e.stdout, "\ncaught %d of %d injected scenarios; %d false alerts in %d employee-days = %.2f per 1,000; precision %.2f\n",
		rep.Caught, rep.Injected, rep.FalseAlerts, rep.EmployeeDays, rep.FalsePer1000, rep.Precision)
	fmt.Fprintf(e.stdout, "%d events in %s (%.0f events/s including generation and blind indexing)\n", rep.Events, rep.Elapsed.Round(time.Millisecond), float64(rep.Events)/rep.Elapsed.Seconds())
}

func fmtDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// evalFailures lists the targets of the detection issue that rep misses.
func evalFailures(rep eval.Report) []string {
	var out []string
	for _, r := range rep.Results {
		if r.Malicious && !r.Detected {
			out = append(out, r.Scenario+" not detected")
		}
		if r.Detected && (r.Scenario == "planted_crawler" || r.Scenario == "credential_stuffing") && r.TimeToDetect > 5*time.Minute {
			out = append(out, fmt.Sprintf("%s detected after %s", r.Scenario, fmtDuration(r.TimeToDetect)))
		}
	}
	if rep.FalsePer1000 > 1 {
		out = append(out, fmt.Sprintf("%.2f false alerts per 1,000 employee-days", rep.FalsePer1000))
	}
	return out
}

func writeEvalEvents(e *env, path string, suite []*sim.Scenario) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	total := 0
	for _, sc := range suite {
		n, err := eval.WriteEvents(f, sc)
		total += n
		if err != nil {
			f.Close()
			return fmt.Errorf("write events of %s: %w", sc.Name, err)
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %d events of %d scenarios to %s\n", total, len(suite), path)
	return nil
}
