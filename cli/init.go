package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/ledger"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/sqlite"
)

func newInitCmd(e *env) *cobra.Command {
	var cf configFlags
	var noToken bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data directory: keys, event store and a first admin token",
		Long: `Init prepares the data directory named by --data or data_dir in custos.yaml:
a random blind-index key (keys/blind.key, mode 0600) under which every data
subject's identifier is hashed, the ledger's signing key (its verifier key
is printed, for auditors and witnesses), the event store, and an admin API
token whose secret is printed once.

Keep the key safe and backed up: without it, stored history can no longer be
searched by identifier. Init refuses a directory that already has a key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			if err := server.Init(e.ctx, cfg.DataDir); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "initialized %s\n", cfg.DataDir)
			// The ledger's signing key exists from the start, so that its
			// verifier key can be given to auditors and witnesses before
			// the first checkpoint.
			vkey, err := ledger.CreateKey(filepath.Join(cfg.DataDir, "ledger"), "")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "ledger verifier key (for custos ledger verify --key and witnesses):\n%s\n", vkey)
			if noToken {
				return nil
			}
			st, err := sqlite.Open(e.ctx, cfg.DataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, secret, err := server.CreateToken(e.ctx, st, "admin", []custos.Scope{custos.ScopeAdmin})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "admin token %s (shown once, store it now):\n%s\n", tok.ID, secret)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&noToken, "no-token", false, "do not create the first admin token")
	return cmd
}
