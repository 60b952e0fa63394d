package config

import "path/filepath"

// Policy names the files the decision core is built from. Both are
// optional: without a policy file the built-in defaults decide by category
// (PIPL sensitive categories denied, others allowed); without a catalogue
// the gateways learn data types only from content inspection.
type Policy struct {
	File    string `yaml:"file"`    // policy rules (docs/policy.md)
	Catalog string `yaml:"catalog"` // catalogue of columns and JSON paths (docs/policy.md)
	// Relationships names the relationship-sources file: per kind, the SQL
	// query has_relationship asks (docs/policy.md); empty: relationships
	// come only from POST /api/v1/relationships.
	Relationships string `yaml:"relationships"`
}

// resolvePaths makes the file paths in cfg relative to dir (the directory
// of custos.yaml), so a configuration means the same from any working
// directory.
func (c *Config) resolvePaths(dir string) {
	paths := []*string{&c.DataDir, &c.Approvals.RulesFile, &c.Policy.File, &c.Policy.Catalog, &c.Policy.Relationships, &c.Alerts.Email.PasswordFile, &c.Ledger.Witness.TokenFile}
	for i := range c.Alerts.Webhooks {
		paths = append(paths, &c.Alerts.Webhooks[i].SecretFile)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
