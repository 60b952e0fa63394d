package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/policy"
)

func newPolicyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check access policies: run request cases and lint",
		Long: `A policy decides for every request whether an employee may see the personal
data it touches: allow, mask, deny or require approval, with limits. See
docs/policy.md for the language.`,
	}
	cmd.AddCommand(newPolicyTestCmd(e), newPolicyLintCmd(e), newPolicyCatalogCmd(e))
	return cmd
}

func newPolicyTestCmd(e *env) *cobra.Command {
	var policyPath, format string
	cmd := &cobra.Command{
		Use:   "test -p POLICY.yaml REQUESTS.yaml",
		Short: "Decide the requests of a case file and compare with the expected decisions",
		Long: `Evaluates every case of REQUESTS.yaml (requests, the relationships they
assume, and the expected decision, rules, limit and masks) against the
policy. Exits 1 if any case fails or the policy does not load.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
				return &usageError{msg: "--policy is required (see 'custos policy test --help')"}
			}
			data, err := os.ReadFile(policyPath)
			if err != nil {
				return err
			}
			cf, err := policy.LoadCases(args[0])
			if err != nil {
				return err
			}
			results, err := policy.RunCases(policyPath, data, cf)
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range results {
				if !r.Pass {
					failed++
				}
			}
			switch format {
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			case "text":
				for _, r := range results {
					if r.Pass {
						fmt.Fprintf(e.stdout, "ok   %s %s → %s %v\n", r.Pos, r.Name, r.Got.Effect, r.Got.Rules)
						continue
					}
					for _, f := range r.Failures {
						fmt.Fprintf(e.stdout, "FAIL %s %s: %s\n", r.Pos, r.Name, f)
					}
				}
				fmt.Fprintf(e.stdout, "%d passed, %d failed\n", len(results)-failed, failed)
			default:
				return &usageError{msg: fmt.Sprintf("unknown --format %q (text or json)", format)}
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d policy cases failed", failed, len(results))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&policyPath, "policy", "p", "", "policy file")
	cmd.Flags().StringVar(&format, "format", "text", "output: text or json")
	return cmd
}

func newPolicyLintCmd(e *env) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "lint POLICY.yaml...",
		Short: "Report errors, unreachable and conflicting rules with their lines",
		Long: `Compiles each policy and prints every problem as file:line:column: severity:
message. Errors (unknown fields, types, categories, transforms, CEL that
does not compile) stop a policy from loading; warnings name rules that can
never apply or that overlap an earlier rule with a different decision.
Exits 1 on errors, and on warnings too with --strict.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			errs, warns := 0, 0
			for _, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, p := range policy.Lint(path, data, policy.Options{}) {
					fmt.Fprintln(e.stdout, p.String())
					if p.Severity == "error" {
						errs++
					} else {
						warns++
					}
				}
			}
			fmt.Fprintf(e.stdout, "%d errors, %d warnings\n", errs, warns)
			if errs > 0 || strict && warns > 0 {
				return &exitError{code: 1, err: errors.New("policy lint found problems")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	return cmd
}

func newPolicyCatalogCmd(e *env) *cobra.Command {
	var mergePath, outPath string
	var minConfidence float64
	cmd := &cobra.Command{
		Use:   "catalog SCAN.json...",
		Short: "Build the catalogue from custos scan output, keeping hand-written entries",
		Long: `Reads the output of 'custos scan --format json' or 'jsonl' (database
scans: one finding per column) and writes a catalogue: the most confident
type of each column, and in each table the strongest identifier (ID
number, then passport and permits, then mobile) proposed as its subject
key. With --merge, the catalogue given is kept as written and only the
tables and columns it lacks are added. Review the subject keys before use.
'-' reads standard input.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var findings []catalog.Finding
			for _, path := range args {
				f := e.stdin
				if path != "-" {
					file, err := os.Open(path)
					if err != nil {
						return err
					}
					defer file.Close()
					f = file
				}
				fs, err := catalog.ReadScanJSON(f)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				findings = append(findings, fs...)
			}
			imported, skipped := catalog.FromFindings(findings, minConfidence)
			out := imported
			if mergePath != "" {
				base, err := catalog.Load(mergePath)
				if err != nil {
					return err
				}
				out = catalog.Merge(base.File(), imported)
			}
			c, err := catalog.New(out)
			if err != nil {
				return err
			}
			data, err := c.Marshal()
			if err != nil {
				return err
			}
			if outPath == "" {
				_, err = e.stdout.Write(data)
			} else {
				err = os.WriteFile(outPath, data, 0o644)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "%d column findings, %d of unknown type skipped, %d resources\n", len(findings), skipped, len(out.Resources))
			return nil
		},
	}
	cmd.Flags().StringVar(&mergePath, "merge", "", "existing catalogue to keep and add to")
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "write here instead of standard output")
	cmd.Flags().Float64Var(&minConfidence, "min-confidence", 0.8, "ignore findings below this confidence")
	return cmd
}
