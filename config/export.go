package config

import (
	"fmt"
	"slices"
)

// Export configures how gateways fingerprint the exports they write
// (docs/tracing.md).
type Export struct {
	// CanaryPool is a file of organization-owned mobile numbers, mailboxes
	// and @catch-all domains, one per line, for canary records; "demo"
	// uses generated ones (170 9900 xxxx, @mail.example.com); empty
	// plants no canaries.
	CanaryPool string `yaml:"canary_pool"`
	// CanaryEvery plants one canary per this many rows (at least one per
	// export).
	CanaryEvery int `yaml:"canary_every"`
	// Order puts rows in a keyed order per export.
	Order bool `yaml:"order"`
	// Variants are the formatting watermarks to apply: phone, email_case,
	// date, trailing_space.
	Variants []string `yaml:"variants"`
}

// DefaultExport is the export section's defaults: keyed row order and
// the phone and e-mail-domain variants, no canaries until a pool is
// configured.
func DefaultExport() Export {
	return Export{CanaryEvery: 200, Order: true, Variants: []string{"phone", "email_case"}}
}

var exportVariants = []string{"phone", "email_case", "date", "trailing_space"}

// Validate names every bad export field.
func (e Export) Validate() []error {
	var errs []error
	if e.CanaryEvery < 1 {
		errs = append(errs, fmt.Errorf("export.canary_every: must be at least 1"))
	}
	for _, v := range e.Variants {
		if !slices.Contains(exportVariants, v) {
			errs = append(errs, fmt.Errorf("export.variants: unknown variant %q (want phone, email_case, date or trailing_space)", v))
		}
	}
	return errs
}
