package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/server"
	"github.com/custos-dev/custos/store/postgres"
	"github.com/custos-dev/custos/store/sqlite"
)

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API bearer tokens",
		Long: `API tokens authenticate systems and people to the HTTP API. Each token has
scopes: ingest (POST /api/v1/events and /logins), read (history and alerts
queries) and admin (everything). Only a SHA-256 hash of each secret is
stored; the secret is printed once, at creation.`,
	}
	cmd.AddCommand(newTokenCreateCmd(e), newTokenListCmd(e), newTokenRevokeCmd(e))
	return cmd
}

func openStore(e *env, cf *configFlags) (*sqlite.Store, error) {
	cfg, err := cf.load()
	if err != nil {
		return nil, err
	}
	if !server.Initialized(cfg.DataDir) {
		return nil, fmt.Errorf("%s is not a Custos data directory (run 'custos init' first)", cfg.DataDir)
	}
	return sqlite.Open(e.ctx, cfg.DataDir)
}

// tokenStore is where the token commands work.
type tokenStore interface {
	server.TokenStore
	ListTokens(ctx context.Context) ([]custos.Token, error)
	RevokeToken(ctx context.Context, id string) error
}

// openTokenStore opens the store tokens live in: a cluster's PostgreSQL
// store when cluster.store.driver is postgres (gateways and the api node
// check tokens there), else the data directory's.
func openTokenStore(e *env, cf *configFlags) (tokenStore, func() error, error) {
	cfg, err := cf.load()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Cluster.Store.Driver == "postgres" {
		st, err := postgres.Open(e.ctx, cfg.Cluster.Store.DSN)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	st, err := openStore(e, cf)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

func newTokenCreateCmd(e *env) *cobra.Command {
	var cf configFlags
	var name string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "create --name NAME --scope ingest|read|admin [--scope …]",
		Short: "Create a token and print its secret once",
		Example: `  custos token create --name pss-ingest --scope ingest
  custos token create --name soc --scope read`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return &usageError{msg: "--name is required"}
			}
			var ss []custos.Scope
			for _, s := range scopes {
				sc, err := custos.ParseScope(s)
				if err != nil {
					return &usageError{msg: "--scope: " + err.Error()}
				}
				ss = append(ss, sc)
			}
			if len(ss) == 0 {
				return &usageError{msg: "at least one --scope is required (ingest, read, admin)"}
			}
			st, closeStore, err := openTokenStore(e, &cf)
			if err != nil {
				return err
			}
			defer closeStore()
			tok, secret, err := server.CreateToken(e.ctx, st, name, ss)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "token %s created (%s); its secret is shown once:\n", tok.ID, strings.Join(scopes, ","))
			fmt.Fprintln(e.stdout, secret)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&name, "name", "", "what the token is for (shown in logs and audits)")
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "scope: ingest, read or admin (repeatable)")
	return cmd
}

func newTokenListCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, closeStore, err := openTokenStore(e, &cf)
			if err != nil {
				return err
			}
			defer closeStore()
			toks, err := st.ListTokens(e.ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED")
			for _, t := range toks {
				var ss []string
				for _, s := range t.Scopes {
					ss = append(ss, string(s))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(ss, ","), t.Created.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	return cmd
}

func newTokenRevokeCmd(e *env) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, closeStore, err := openTokenStore(e, &cf)
			if err != nil {
				return err
			}
			defer closeStore()
			if err := st.RevokeToken(e.ctx, args[0]); err != nil {
				return fmt.Errorf("revoke %s: %w", args[0], err)
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}
