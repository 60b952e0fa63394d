package config

import (
	"strings"
	"testing"
)

func TestConsoleOIDC(t *testing.T) {
	const yml = `
console:
  oidc:
    issuer: https://idp.example.com/realms/staff
    client_id: custos
    client_secret_file: /etc/custos/oidc-secret
    redirect_url: https://custos.example.com/console/oidc/callback
    role_claim: groups
    roles: {custos-investigators: investigator, custos-auditors: auditor}
`
	cfg := Default()
	if err := Parse("custos.yaml", []byte(yml), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if o := cfg.Console.OIDC; o.Roles["custos-auditors"] != "auditor" || o.ClientID != "custos" || !cfg.Console.Enabled {
		t.Errorf("parsed %+v", o)
	}
	// Strict decoding: a misspelt key is an error, not ignored.
	bad := Default()
	if err := Parse("custos.yaml", []byte("console:\n  oidc:\n    clientid: custos\n"), &bad); err == nil {
		t.Error("unknown console.oidc key accepted")
	}
}

func TestConsoleOIDCValidate(t *testing.T) {
	ok := func() ConsoleOIDC {
		return ConsoleOIDC{Issuer: "https://idp.example.com", ClientID: "custos", ClientSecretFile: "/s",
			RedirectURL: "https://custos.example.com/console/oidc/callback", Roles: map[string]string{"g": "auditor"}}
	}
	cases := []struct {
		name   string
		mutate func(o *ConsoleOIDC)
		want   string // "" means valid
	}{
		{"valid", func(o *ConsoleOIDC) {}, ""},
		{"off", func(o *ConsoleOIDC) { *o = ConsoleOIDC{} }, ""},
		{"issuer not a URL", func(o *ConsoleOIDC) { o.Issuer = "idp.example.com" }, "console.oidc.issuer"},
		{"no client id", func(o *ConsoleOIDC) { o.ClientID = "" }, "console.oidc.client_id"},
		{"no secret file", func(o *ConsoleOIDC) { o.ClientSecretFile = "" }, "console.oidc.client_secret_file"},
		{"redirect elsewhere", func(o *ConsoleOIDC) { o.RedirectURL = "https://custos.example.com/callback" }, "console.oidc.redirect_url"},
		{"no roles", func(o *ConsoleOIDC) { o.Roles = nil }, "console.oidc.roles"},
		{"unknown role", func(o *ConsoleOIDC) { o.Roles = map[string]string{"g": "superuser"} }, `console.oidc.roles["g"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConsole()
			c.OIDC = ok()
			tc.mutate(&c.OIDC)
			errs := c.Validate()
			if tc.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one naming %s", errs, tc.want)
			}
		})
	}
}
