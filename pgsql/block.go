package pgsql

import (
	"fmt"
	"strings"
)

// SQLStateInsufficientPrivilege is the SQLSTATE of every block
// (insufficient_privilege), which clients and drivers already treat as
// "not allowed" rather than as a fault.
const SQLStateInsufficientPrivilege = "42501"

// The rules Blocked applies, as Block.Rule.
const (
	RuleFunction    = "function"     // a function that reaches files, large objects or other servers
	RuleCopyProgram = "copy_program" // COPY … PROGRAM
	RuleCopyFile    = "copy_file"    // COPY to or from a server-side file
	RuleCopyTo      = "copy_to"      // COPY … TO of a catalogued relation
	RuleSelectStar  = "select_star"  // SELECT * without LIMIT over a catalogued relation
	RuleDDL         = "ddl"          // DDL by a role that is not a DBA
	RuleCopiesData  = "copies_data"  // catalogued data copied into a new or uncatalogued relation
	RuleSetting     = "setting"      // a setting that would make the server read SQL differently from Analyze, or SET ROLE by a non-DBA
)

// DangerousFunctions are the functions Blocked refuses for every role. A
// name matches whatever schema it is qualified with; a name ending in "*" is
// a prefix.
var DangerousFunctions = []string{
	"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
	"pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir",
	"pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_logdir_ls",
	"lo_import", "lo_export", "dblink*", "pg_execute_server_program",
}

// BlockOptions are what Blocked needs to know about the caller and the
// catalogue. The zero value blocks what is dangerous for everyone and treats
// no relation as catalogued.
type BlockOptions struct {
	// Catalogued reports whether a relation, as written in the statement,
	// holds catalogued personal data. The gateway resolves unqualified
	// names (search_path) and views here. Nil means none is.
	Catalogued func(Table) bool
	// DBA exempts the caller from the DDL rule.
	DBA bool
	// AllowSelectStar turns the unbounded SELECT * rule off.
	AllowSelectStar bool
}

// Block is a refusal: the gateway answers the query string with an
// ErrorResponse carrying SQLState and Message and does not forward it.
type Block struct {
	Rule      string // one of the Rule* constants
	Statement int    // index in Analysis.Statements
	SQLState  string // SQLSTATE to return, 42501
	// Message names the rule, relations and functions involved, never
	// values: safe to return to the client and to log.
	Message string
}

// Error makes a Block usable as an error.
func (b *Block) Error() string { return b.Message }

// Blocked returns the first block any statement of the query string hits,
// or nil when none does. A query string is refused whole: the gateway must
// not forward any of its statements when one is blocked.
func (a Analysis) Blocked(opts BlockOptions) *Block {
	for i, st := range a.Statements {
		if b := st.blocked(opts); b != nil {
			b.Statement = i
			b.SQLState = SQLStateInsufficientPrivilege
			return b
		}
	}
	return nil
}

func (st Statement) blocked(opts BlockOptions) *Block {
	catalogued := func(t Table) bool { return opts.Catalogued != nil && opts.Catalogued(t) }
	var readCat []string
	writesUncatalogued := false
	for _, t := range st.Tables {
		if t.Write {
			if !catalogued(t) {
				writesUncatalogued = true
			}
			continue
		}
		if catalogued(t) {
			readCat = append(readCat, t.String())
		}
	}
	for _, f := range st.Functions {
		if dangerous(f) {
			return &Block{Rule: RuleFunction, Message: fmt.Sprintf("custos: function %s is not allowed through the gateway", f)}
		}
	}
	if s := st.Setting; s != nil && !s.Reset && lexerSetting[s.Name] && !strings.EqualFold(s.Value, "on") && s.Value != "true" {
		return &Block{Rule: RuleSetting, Message: fmt.Sprintf("custos: SET %s is not allowed through the gateway", s.Name)}
	}
	if s := st.Setting; s != nil && !opts.DBA && identitySetting[s.Name] && !(s.Reset && s.Name != "all") {
		return &Block{Rule: RuleSetting, Message: fmt.Sprintf("custos: SET %s is allowed for DBA roles only", s.Name)}
	}
	if st.setsLexer {
		return &Block{Rule: RuleSetting, Message: "custos: set_config of standard_conforming_strings (or of a computed name) is not allowed through the gateway"}
	}
	if st.CopyProgram {
		return &Block{Rule: RuleCopyProgram, Message: "custos: COPY … PROGRAM is not allowed through the gateway"}
	}
	if st.CopyFile {
		return &Block{Rule: RuleCopyFile, Message: "custos: COPY to or from a server file is not allowed through the gateway; use STDIN/STDOUT"}
	}
	if st.Kind == KindCopyTo && len(readCat) > 0 {
		return &Block{Rule: RuleCopyTo, Message: fmt.Sprintf("custos: COPY … TO of %s is not allowed: it holds catalogued personal data", strings.Join(readCat, ", "))}
	}
	if (st.Creates || (writesUncatalogued && !st.Utility) || (writesUncatalogued && st.Kind == KindCopyFrom)) && len(readCat) > 0 {
		return &Block{Rule: RuleCopiesData, Message: fmt.Sprintf("custos: copying catalogued personal data from %s into another relation is not allowed", strings.Join(readCat, ", "))}
	}
	if st.Kind == KindDDL && !opts.DBA {
		return &Block{Rule: RuleDDL, Message: "custos: DDL is allowed for DBA roles only"}
	}
	if !opts.AllowSelectStar && st.SelectStar && !st.Limited && len(readCat) > 0 && st.Kind == KindSelect {
		return &Block{Rule: RuleSelectStar, Message: fmt.Sprintf("custos: SELECT * over %s needs a LIMIT: name the columns or add LIMIT", strings.Join(readCat, ", "))}
	}
	return nil
}

// lexerSetting are the settings under which the server would lex string
// literals differently from the parser Analyze uses (which assumes
// standard_conforming_strings = on), letting a statement mean one thing to
// the gateway and another to the server.
var lexerSetting = map[string]bool{"standard_conforming_strings": true}

// identitySetting are the settings that change who the upstream session
// acts as (SET ROLE, SET SESSION AUTHORIZATION): the gateway attributes
// statements to the employee and chose the upstream role for them.
var identitySetting = map[string]bool{"role": true, "session_authorization": true}

func dangerous(f string) bool {
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		f = f[i+1:]
	}
	for _, d := range DangerousFunctions {
		if p, ok := strings.CutSuffix(d, "*"); ok {
			if strings.HasPrefix(f, p) {
				return true
			}
		} else if f == d {
			return true
		}
	}
	return false
}
