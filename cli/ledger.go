package cli

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/go-sql-driver/mysql" // --mysql
	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/store/sqlite"
)

func newLedgerCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Check the tamper-evident ledger and prove that events are in it",
		Long: `Every stored event is appended to a tamper-evident log (a Tessera Merkle
tree in <data>/ledger, with signed checkpoints). 'verify' recomputes the
tree and names the first entry that differs; 'proof' prints an inclusion
proof for one event; 'checkpoint' prints the latest signed checkpoint, to
keep somewhere the operator cannot edit and pass back with --from; 'key'
prints the verifier key to keep the same way and pass back with --key.`,
	}
	cmd.AddCommand(newLedgerVerifyCmd(e), newLedgerProofCmd(e), newLedgerCheckpointCmd(e), newLedgerKeyCmd(e))
	return cmd
}

func ledgerDir(f *configFlags) (string, string, error) {
	cfg, err := f.load()
	if err != nil {
		return "", "", err
	}
	return filepath.Join(cfg.DataDir, "ledger"), cfg.DataDir, nil
}

func newLedgerVerifyCmd(e *env) *cobra.Command {
	var (
		flags      configFlags
		from       []string
		key        string
		witnessDir string
		witnessURL string
		witnessKey string
		withStore  bool
		asJSON     bool
		mysqlDSN   string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the ledger's tree and check it; exit 3 if it is not intact",
		Long: `Recomputes the Merkle tree from every entry and checks it against the
signed checkpoint, the leaf hashes the log stores, the leaf index, and
whatever else is given: checkpoints saved earlier (--from), a witness
directory (--witness) or a witness on another host (--witness-url with
--witness-key), the event store (--store). Prints the first bad
entry and exits 3 when the ledger is not intact, 0 when it is.

--key names the ledger's verifier key (a file, or the key itself); without
it the key in the ledger directory is trusted, which an operator who can
edit that directory can replace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, dataDir, err := ledgerDir(&flags)
			if err != nil {
				return err
			}
			opts := ledger.VerifyOptions{WitnessDir: witnessDir}
			if witnessURL != "" {
				opts.Witness = &ledger.HTTPWitness{URL: witnessURL, Key: witnessKey, Token: os.Getenv("CUSTOS_WITNESS_TOKEN")}
			}
			if key != "" {
				if opts.LogKey, err = readKeyArg(key); err != nil {
					return err
				}
			}
			for _, path := range from {
				b, err := os.ReadFile(path)
				if err != nil {
					return fmt.Errorf("--from: %w", err)
				}
				opts.Trusted = append(opts.Trusted, b)
			}
			if withStore {
				st, err := sqlite.Open(e.ctx, dataDir)
				if err != nil {
					return fmt.Errorf("--store: %w", err)
				}
				defer st.Close()
				opts.Store = st
			}
			if mysqlDSN != "" {
				db, err := sql.Open("mysql", mysqlDSN)
				if err != nil {
					return fmt.Errorf("--mysql: %w", err)
				}
				defer db.Close()
				if opts.Log, err = ledger.OpenMySQLLog(e.ctx, db); err != nil {
					return fmt.Errorf("--mysql: %w", err)
				}
			}
			rep, err := ledger.Verify(e.ctx, dir, opts)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(e, rep)
			}
			if !rep.Intact() {
				return &exitError{code: 3, err: fmt.Errorf("ledger is not intact: %s", rep.FirstBad())}
			}
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringArrayVar(&from, "from", nil, "a checkpoint saved earlier ('custos ledger checkpoint'); repeatable")
	cmd.Flags().StringVar(&key, "key", "", "ledger verifier key, or a file holding it (default: <data>/ledger/signer.pub)")
	cmd.Flags().StringVar(&witnessDir, "witness", "", "witness directory whose cosigned checkpoints the ledger must extend")
	cmd.Flags().StringVar(&witnessURL, "witness-url", "", "a witness on another host (…/api/v1/witness; token in CUSTOS_WITNESS_TOKEN)")
	cmd.Flags().StringVar(&witnessKey, "witness-key", "", "that witness's verifier key (with --witness-url)")
	cmd.Flags().BoolVar(&withStore, "store", false, "also compare every entry with the event store in the data directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&mysqlDSN, "mysql", "", "the log is in this MySQL/MariaDB database (DSN user@tcp(host:port)/db), not <data>/ledger/log")
	return cmd
}

func printReport(e *env, rep *ledger.Report) {
	if rep.Intact() {
		fmt.Fprintf(e.stdout, "ledger intact: %d entries, root %x\n", rep.Size, rep.Root)
	} else {
		fmt.Fprintf(e.stdout, "ledger NOT intact: %d entries in the checkpoint, %d checked\n", rep.Size, rep.Checked)
		fmt.Fprintf(e.stdout, "first bad: %s\n", rep.FirstBad())
		for _, p := range rep.Problems[1:] {
			fmt.Fprintf(e.stdout, "also: %s\n", p)
		}
	}
	if len(rep.Anchors) > 0 {
		fmt.Fprintf(e.stdout, "checked against: signed checkpoint, %s\n", strings.Join(rep.Anchors, ", "))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(e.stdout, "note: %s\n", n)
	}
	fmt.Fprintf(e.stdout, "took %s\n", rep.Took.Round(1e6))
}

// readKeyArg accepts a note verifier key or a file holding one.
func readKeyArg(arg string) (string, error) {
	if b, err := os.ReadFile(arg); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("--key: %w", err)
	}
	if strings.Count(arg, "+") != 2 {
		return "", fmt.Errorf("--key: %q is neither a file nor a verifier key", arg)
	}
	return arg, nil
}

func newLedgerProofCmd(e *env) *cobra.Command {
	var (
		flags    configFlags
		mysqlDSN string
	)
	cmd := &cobra.Command{
		Use:   "proof EVENT_ID",
		Short: "Print the inclusion proof of an event (JSON) against the latest checkpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _, err := ledgerDir(&flags)
			if err != nil {
				return err
			}
			var logSrc ledger.Fetcher
			if mysqlDSN != "" {
				db, err := sql.Open("mysql", mysqlDSN)
				if err != nil {
					return fmt.Errorf("--mysql: %w", err)
				}
				defer db.Close()
				if logSrc, err = ledger.OpenMySQLLog(e.ctx, db); err != nil {
					return fmt.Errorf("--mysql: %w", err)
				}
			}
			p, err := ledger.ProveEventIn(e.ctx, dir, logSrc, args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&mysqlDSN, "mysql", "", "the log is in this MySQL/MariaDB database (DSN user@tcp(host:port)/db), not <data>/ledger/log")
	return cmd
}

func newLedgerCheckpointCmd(e *env) *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest signed checkpoint (save it to check later with verify --from)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _, err := ledgerDir(&flags)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(dir, "log", "checkpoint"))
			if err != nil {
				return fmt.Errorf("read checkpoint: %w", err)
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
	flags.register(cmd)
	return cmd
}

func newLedgerKeyCmd(e *env) *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Print the ledger's verifier key (creating the signing key if the ledger has none yet)",
		Long: `Prints the note verifier key of the ledger's checkpoints. Keep a copy
outside the data directory (another host, a ticket, paper) and pass it to
'custos ledger verify --key': an operator who can edit the data directory
can replace <data>/ledger/signer.pub along with a forged log. Run it right
after 'custos init' so that the copy exists before the first event; the
signing key is created then if it does not exist yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _, err := ledgerDir(&flags)
			if err != nil {
				return err
			}
			vkey, err := ledger.CreateKey(dir, "")
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, vkey)
			return nil
		},
	}
	flags.register(cmd)
	return cmd
}
