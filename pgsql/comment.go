package pgsql

import (
	"net/url"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// commentAttributes returns the sqlcommenter attributes of the C-style
// comment that leads or trails sql (trailing wins when both exist, as
// sqlcommenter appends its comment). Only a comment the scanner sees as a
// comment counts: text inside a string literal that looks like one does not.
func commentAttributes(sql string) map[string]string {
	if !strings.Contains(sql, "/*") {
		return nil
	}
	scan, err := pg_query.Scan(sql)
	if err != nil || len(scan.Tokens) == 0 {
		return nil
	}
	toks := scan.Tokens
	last := len(toks) - 1
	for last >= 0 && (toks[last].Token == pg_query.Token_ASCII_59 || toks[last].Token == pg_query.Token_SQL_COMMENT) {
		last--
	}
	for _, i := range []int{last, 0} {
		if i < 0 || toks[i].Token != pg_query.Token_C_COMMENT {
			continue
		}
		if attrs := parseCommenter(sql[toks[i].Start:toks[i].End]); attrs != nil {
			return attrs
		}
	}
	return nil
}

// parseCommenter parses "/* k='v',k2='v2' */" (sqlcommenter): keys and
// values URL-encoded, values single-quoted with \' escapes for quotes.
// It returns nil for a comment that is not in this form.
func parseCommenter(c string) map[string]string {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(c, "/*"), "*/"))
	if s == "" {
		return nil
	}
	attrs := map[string]string{}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '\'' {
			return nil
		}
		key, err := url.PathUnescape(strings.TrimSpace(s[:eq]))
		if err != nil || key == "" {
			return nil
		}
		// Find the closing quote, skipping \' escapes.
		rest := s[eq+2:]
		var val strings.Builder
		end := -1
		for i := 0; i < len(rest); i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				val.WriteByte(rest[i+1])
				i++
				continue
			}
			if rest[i] == '\'' {
				end = i
				break
			}
			val.WriteByte(rest[i])
		}
		if end < 0 {
			return nil
		}
		v, err := url.PathUnescape(val.String())
		if err != nil {
			return nil
		}
		attrs[key] = v
		s = strings.TrimSpace(rest[end+1:])
		if s == "" {
			break
		}
		if s[0] != ',' {
			return nil
		}
		s = strings.TrimSpace(s[1:])
	}
	return attrs
}
