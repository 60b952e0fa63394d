package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/custos" || cfg.API.MaxBatch != 5000 || cfg.Log.Format != "json" || cfg.API.TLS.Key != "/etc/custos/tls.key" ||
		cfg.Detect.TimeZone != "Asia/Shanghai" || cfg.Detect.Snapshots() != 30*time.Second {
		t.Errorf("loaded %+v", cfg)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key with position", "data_dir: x\napi:\n  listen: 127.0.0.1:1\n  max_batchs: 10\n", `custos.yaml:4:3: unknown field "max_batchs"`},
		{"wrong type", "api:\n  max_batch: many\n", "custos.yaml:2:"},
		{"bad level", "log:\n  level: loud\n", "log.level: must be debug"},
		{"bad listen", "api:\n  listen: nowhere\n", "api.listen"},
		{"half tls", "api:\n  tls:\n    cert: a.crt\n", "api.tls"},
		{"syntax", "api: [\n", "custos.yaml:"},
		{"bad zone", "detect:\n  time_zone: Mars/Olympus\n", "detect.time_zone"},
		{"bad interval", "detect:\n  snapshot_interval: soon\n", "detect.snapshot_interval"},
		{"bad webhook", "alerts:\n  webhooks: [{url: ftp://soc}]\n", "alerts.webhooks[0].url"},
		{"bad syslog", "alerts:\n  syslog: {network: sctp, address: 'siem:514'}\n", "alerts.syslog.network"},
		{"email without recipients", "alerts:\n  email: {smtp: 'mail:25', from: custos@example.org}\n", "alerts.email"},
		{"bad severity", "alerts:\n  min_severity: urgent\n", "alerts.min_severity"},
		{"bad approval webhook", "approvals:\n  rules_file: r.yaml\n  notify:\n    webhooks: [{url: 'soc'}]\n", "approvals.notify.webhooks[0].url"},
		{"approval email without sender", "approvals:\n  rules_file: r.yaml\n  notify:\n    email: {smtp: 'mail:25', to: [a@example.org]}\n", "approvals.notify.email"},
		{"approval notices without rules", "approvals:\n  notify:\n    webhooks: [{url: 'https://bot.example.org/hook'}]\n", "approvals.notify: needs approvals.rules_file"},
		{"bad checkpoint interval", "ledger:\n  checkpoint_interval: 1ms\n", "ledger.checkpoint_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "custos.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	cfg, err := Load("", []string{"CUSTOS_DATA_DIR=/tmp/d", "CUSTOS_API_LISTEN=127.0.0.1:9", "CUSTOS_API_MAX_BATCH=7", "PATH=/bin", "CUSTOS_REQUIRE_SERVICES=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/tmp/d" || cfg.API.Listen != "127.0.0.1:9" || cfg.API.MaxBatch != 7 {
		t.Errorf("got %+v", cfg)
	}
	if _, err := Load("", []string{"CUSTOS_API_MAX_BATCH=lots"}); err == nil || !strings.Contains(err.Error(), "CUSTOS_API_MAX_BATCH") {
		t.Errorf("bad override: %v", err)
	}
}

func TestRelativeDataDirFollowsConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "custos.yaml")
	os.WriteFile(path, []byte("data_dir: data\n"), 0o600)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(dir, "data") {
		t.Errorf("data_dir = %s", cfg.DataDir)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"data_dir: x\n", "api:\n  listen: 127.0.0.1:1\n", "rules:\n !0 #\n", "api: [\n", "log: {level: debug}\n"} {
		f.Add([]byte(seed))
	}
	full, _ := os.ReadFile("testdata/full.yaml")
	f.Add(full)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default()
		if err := Parse("custos.yaml", data, &cfg); err != nil {
			return
		}
		cfg.Validate()
	})
}
