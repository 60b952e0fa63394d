package pgsql

import (
	"strings"
	"sync"
)

// Cache memoizes Analyze by the shape of the query string: two query strings
// that differ only in numeric and string constants share one analysis (the
// statement text is the caller's own). A gateway in front of applications
// that send the same statements with different constants parses each shape
// once.
//
// Only single statements without comments, backslashes, dollar quotes,
// prefixed strings (E'x', B'1', X'f', U&'x') or SET are cached; anything else is
// analyzed every time, so a shape key can never stand for two different
// statements. The cache holds at most Size shapes and evicts an arbitrary one
// when full. Safe for concurrent use. The Analysis it returns shares its
// slices with other callers: do not modify them.
type Cache struct {
	size int
	mu   sync.RWMutex
	m    map[string]Analysis
}

// NewCache returns a cache of at most size shapes (1024 when size <= 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = 1024
	}
	return &Cache{size: size, m: make(map[string]Analysis, size)}
}

// Analyze is Analyze(sql), served from the cache when a query of the same
// shape was analyzed before. Parse errors are not cached.
func (c *Cache) Analyze(sql string) (Analysis, error) {
	key, text, ok := shape(sql)
	if !ok {
		return Analyze(sql)
	}
	c.mu.RLock()
	a, hit := c.m[key]
	c.mu.RUnlock()
	if hit {
		st := a.Statements[0]
		st.Text = text
		return Analysis{Statements: []Statement{st}}, nil
	}
	a, err := Analyze(sql)
	if err != nil || len(a.Statements) != 1 || a.Statements[0].Setting != nil || a.Comment != nil {
		return a, err
	}
	c.mu.Lock()
	if len(c.m) >= c.size {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = a
	c.mu.Unlock()
	return a, nil
}

// shape replaces the constants of a single statement with '?' and returns
// that key and the statement's text (trimmed, without the final semicolon).
// ok is false for anything it does not lex with certainty.
func shape(sql string) (key, text string, ok bool) {
	text = strings.TrimSpace(sql)
	text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
	if text == "" || strings.IndexByte(text, '\\') >= 0 {
		return "", "", false
	}
	var b strings.Builder
	b.Grow(len(text))
	identChar := func(c byte) bool {
		return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\\' || c == ';' || c == '$' && (i == 0 || !identChar(text[i-1])):
			return "", "", false // backslash, second statement, dollar quote or parameter
		case c == '-' && i+1 < len(text) && text[i+1] == '-', c == '/' && i+1 < len(text) && text[i+1] == '*':
			return "", "", false // comment
		case c == '\'':
			if i > 0 && identChar(text[i-1]) {
				return "", "", false // E'…', B'…', X'…', U&'…' and the like
			}
			j := i + 1
			for {
				k := strings.IndexByte(text[j:], '\'')
				if k < 0 {
					return "", "", false // unterminated
				}
				j += k + 1
				if j < len(text) && text[j] == '\'' {
					j++ // '' inside the string
					continue
				}
				break
			}
			if j < len(text) && text[j] == '\'' {
				return "", "", false
			}
			b.WriteByte('?')
			i = j
		case c == '"':
			k := strings.IndexByte(text[i+1:], '"')
			if k < 0 {
				return "", "", false
			}
			b.WriteString(text[i : i+k+2])
			i += k + 2
		case c >= '0' && c <= '9' && (i == 0 || !identChar(text[i-1])):
			j := i
			for j < len(text) && (text[j] >= '0' && text[j] <= '9' || text[j] == '.') {
				j++
			}
			if j < len(text) && identChar(text[j]) {
				return "", "", false // 1e5, 0x1f, 1_000, 1from: not lexed here
			}
			b.WriteByte('?')
			i = j
		case identChar(c):
			j := i
			for j < len(text) && identChar(text[j]) {
				j++
			}
			b.WriteString(text[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), text, true
}
