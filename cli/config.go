package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a custos.yaml",
	}
	var cf configFlags
	check := &cobra.Command{
		Use:   "check [-c custos.yaml]",
		Short: "Validate a configuration: unknown keys, types and values, with line and column",
		Long: `Check reads custos.yaml strictly (an unknown or misplaced key is an error with
its line and column), applies CUSTOS_* environment overrides and validates
every field. It exits 0 when the configuration would start.

Environment overrides: ` + strings.Join(sortedEnvVars(), ", ") + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "ok: data_dir %s, api %s (enabled %v)\n", cfg.DataDir, cfg.API.Listen, cfg.API.Enabled)
			return nil
		},
	}
	cf.register(check)
	cmd.AddCommand(check)
	return cmd
}
