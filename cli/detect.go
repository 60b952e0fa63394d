package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/detect"
)

func newDetectCmd(e *env) *cobra.Command {
	var (
		replay, snapshot, breached, tz string
		disable                        []string
	)
	cmd := &cobra.Command{
		Use:   "detect --replay FILE.ndjson",
		Short: "Run the detection engine over an NDJSON file of events",
		Long: `Replays sealed access and login events (one JSON object per line, in time
order, as GET /api/v1/events and /logins return them) through the detection
engine with its default rules, and prints the alerts as NDJSON, one line per
alert in its final state. The engine runs on event time, so a replay gives
the alerts the live system gave for the same events.

--snapshot FILE resumes from a saved engine state (if the file exists) and
saves the state after the replay. --breached DIR imports breached-password
range files (files named by their 5-hex-character SHA-1 prefix, lines
SUFFIX:COUNT). Rules that need the watchlist, honeytokens or relationships
only fire inside the server, where those are configured.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if replay == "" {
				return &usageError{msg: "--replay is required (see 'custos detect --help')"}
			}
			cfg := detect.DefaultConfig()
			if tz != "" {
				loc, err := loadLocation(tz)
				if err != nil {
					return &usageError{msg: err.Error()}
				}
				cfg.Location = loc
			}
			cfg.Disabled = map[string]bool{}
			for _, r := range disable {
				cfg.Disabled[r] = true
			}
			if breached != "" {
				store, n, err := importBreached(breached)
				if err != nil {
					return err
				}
				cfg.Breached = store
				fmt.Fprintf(e.stderr, "imported %d breached-password hashes\n", n)
			}
			eng := detect.New(cfg)
			if snapshot != "" {
				if _, err := eng.LoadSnapshot(snapshot); err != nil {
					return err
				}
			}
			f, err := os.Open(replay)
			if err != nil {
				return err
			}
			defer f.Close()
			final := map[string]detect.Alert{}
			var order []string
			events := 0
			start := time.Now()
			err = detect.ReadNDJSON(bufio.NewReaderSize(f, 1<<20), func(ev detect.Event) error {
				events++
				for _, a := range eng.Process(e.ctx, ev) {
					if _, ok := final[a.ID]; !ok {
						order = append(order, a.ID)
					}
					final[a.ID] = a
				}
				return e.ctx.Err()
			})
			if err != nil {
				return fmt.Errorf("replay %s: %w", replay, err)
			}
			elapsed := time.Since(start)
			enc := json.NewEncoder(e.stdout)
			for _, id := range order {
				if err := enc.Encode(final[id]); err != nil {
					return err
				}
			}
			if snapshot != "" {
				if err := eng.SaveSnapshot(snapshot); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stderr, "%d events, %d alerts, %.0f events/s\n", events, len(order), float64(events)/elapsed.Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&replay, "replay", "", "NDJSON file of access and login events, in time order")
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "engine state file to resume from and save to")
	cmd.Flags().StringVar(&breached, "breached", "", "directory of breached-password range files")
	cmd.Flags().StringVar(&tz, "tz", "", "the organization's time zone for days and hours, e.g. +08:00 or UTC (default UTC)")
	cmd.Flags().StringSliceVar(&disable, "disable", nil, "rules to turn off, comma-separated")
	return cmd
}

// loadLocation accepts a fixed offset (+08:00) or UTC; named zones need
// tzdata, which a minimal container may lack.
func loadLocation(s string) (*time.Location, error) {
	if s == "UTC" || s == "Z" {
		return time.UTC, nil
	}
	t, err := time.Parse("-07:00", s)
	if err != nil {
		loc, lerr := time.LoadLocation(s)
		if lerr != nil {
			return nil, fmt.Errorf("--tz %q: want an offset like +08:00 or a zone name", s)
		}
		return loc, nil
	}
	_, off := t.Zone()
	return time.FixedZone(s, off), nil
}

func importBreached(dir string) (*detect.BreachedStore, int, error) {
	store := detect.NewBreachedStore()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("breached: %w", err)
	}
	total := 0
	for _, en := range entries {
		name := en.Name()
		prefix := strings.TrimSuffix(name, ".txt")
		if en.IsDir() || len(prefix) != 5 {
			continue
		}
		f, err := os.Open(dir + "/" + name)
		if err != nil {
			return nil, total, fmt.Errorf("breached: %w", err)
		}
		n, err := store.ImportRange(prefix, f)
		f.Close()
		if err != nil {
			return nil, total, err
		}
		total += n
	}
	return store, total, nil
}
