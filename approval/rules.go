package approval

import (
	"errors"
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
)

// rulesFile is the approver-rules file: a list under "rules".
type rulesFile struct {
	Rules []Rule `yaml:"rules"`
}

// LoadRules reads approver rules from a YAML file:
//
//	rules:
//	  - id: credit-by-dpo
//	    categories: [credit]
//	    approver_roles: [privacy_officer]
//	    max_duration: 2h
//	  - id: supervisors
//	    approver_roles: [supervisor]
//
// Decoding is strict; errors name file:line:column.
func LoadRules(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	return ParseRules(path, data)
}

// ParseRules decodes approver rules strictly and validates them as New does.
func ParseRules(name string, data []byte) (rules []Rule, err error) {
	defer func() {
		// go-yaml can panic on some malformed input; a bad file must
		// not take the server down.
		if r := recover(); r != nil {
			rules, err = nil, fmt.Errorf("%s: malformed YAML (decoder failure: %v)", name, r)
		}
	}()
	var f rulesFile
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			pos := ye.GetToken().Position
			return nil, fmt.Errorf("%s:%d:%d: %s", name, pos.Line, pos.Column, ye.GetMessage())
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := New(f.Rules); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f.Rules, nil
}
