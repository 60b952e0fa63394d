package cli

import (
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/config"
)

// configFlags are the flags every command that reads custos.yaml shares.
type configFlags struct {
	path    string
	dataDir string
}

func (f *configFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.path, "config", "c", "", "path to custos.yaml (default: built-in defaults and CUSTOS_* environment)")
	cmd.Flags().StringVar(&f.dataDir, "data", "", "data directory (overrides data_dir in the config)")
}

// load reads the configuration the flags point to.
func (f *configFlags) load() (config.Config, error) {
	cfg, err := config.Load(f.path, os.Environ())
	if err != nil {
		return cfg, err
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	return cfg, nil
}

// newLogger builds Custos's own logger. Personal data never reaches it:
// callers log masked values and hashes only.
func newLogger(w io.Writer, cfg config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func sortedEnvVars() []string {
	vs := config.EnvVars()
	sort.Strings(vs)
	return vs
}
