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
	m    map[string]cacheEntry
}

// cacheEntry is one shape's analysis and the ordinals of the constants a
// query of that shape may have lifted out as parameters (Lifted).
type cacheEntry struct {
	a    Analysis
	lift []int
}

// NewCache returns a cache of at most size shapes (1024 when size <= 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = 1024
	}
	return &Cache{size: size, m: make(map[string]cacheEntry, size)}
}

// Analyze is Analyze(sql), served from the cache when a query of the same
// shape was analyzed before. Parse errors are not cached.
func (c *Cache) Analyze(sql string) (Analysis, error) {
	a, _, err := c.analyze(sql, false)
	return a, err
}

// AnalyzeLifted is Analyze, and for a single plain SELECT with numeric
// constants (of a shape the cache takes) also the statement with those
// constants lifted out as typed parameters (see Lifted); nil otherwise.
func (c *Cache) AnalyzeLifted(sql string) (Analysis, *Lifted, error) {
	return c.analyze(sql, true)
}

// analyze is Analyze, lifting the constants only when asked to.
func (c *Cache) analyze(sql string, wantLift bool) (Analysis, *Lifted, error) {
	key, text, consts, ok := lexShape(sql)
	if !ok {
		a, err := Analyze(sql)
		return a, nil, err
	}
	c.mu.RLock()
	e, hit := c.m[key]
	c.mu.RUnlock()
	if hit {
		st := e.a.Statements[0]
		st.Text = text
		var l *Lifted
		if wantLift {
			l = lift(text, consts, e.lift)
		}
		return Analysis{Statements: []Statement{st}}, l, nil
	}
	a, locs, err := analyze(sql)
	if err != nil || len(a.Statements) != 1 || a.Statements[0].Setting != nil || a.Comment != nil {
		return a, nil, err
	}
	e = cacheEntry{a: a}
	if st := a.Statements[0]; st.Kind == KindSelect && !st.Utility && !st.Creates {
		e.lift = liftOrdinals(sql, locs[0])
	}
	c.mu.Lock()
	if len(c.m) >= c.size {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = e
	c.mu.Unlock()
	if !wantLift {
		return a, nil, nil
	}
	return a, lift(text, consts, e.lift), nil
}

// shape replaces the constants of a single statement with '?' and returns
// that key and the statement's text (trimmed, without the final semicolon).
// ok is false for anything it does not lex with certainty.
func shape(sql string) (key, text string, ok bool) {
	key, text, _, ok = lexShape(sql)
	return key, text, ok
}

// constToken is one constant of a statement's text: its byte span in the
// text and whether it is a number (else a quoted string).
type constToken struct {
	start, end int
	numeric    bool
}

// lexShape is shape, with the constants it replaced in order.
func lexShape(sql string) (key, text string, consts []constToken, ok bool) {
	text = strings.TrimSpace(sql)
	text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
	if text == "" || strings.IndexByte(text, '\\') >= 0 {
		return "", "", nil, false
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
			return "", "", nil, false // backslash, second statement, dollar quote or parameter
		case c == '-' && i+1 < len(text) && text[i+1] == '-', c == '/' && i+1 < len(text) && text[i+1] == '*':
			return "", "", nil, false // comment
		case c == '\'':
			if i > 0 && identChar(text[i-1]) {
				return "", "", nil, false // E'…', B'…', X'…', U&'…' and the like
			}
			j := i + 1
			for {
				k := strings.IndexByte(text[j:], '\'')
				if k < 0 {
					return "", "", nil, false // unterminated
				}
				j += k + 1
				if j < len(text) && text[j] == '\'' {
					j++ // '' inside the string
					continue
				}
				break
			}
			if j < len(text) && text[j] == '\'' {
				return "", "", nil, false
			}
			b.WriteByte('?')
			consts = append(consts, constToken{start: i, end: j})
			i = j
		case c == '"':
			k := strings.IndexByte(text[i+1:], '"')
			if k < 0 {
				return "", "", nil, false
			}
			b.WriteString(text[i : i+k+2])
			i += k + 2
		case c >= '0' && c <= '9' && (i == 0 || !identChar(text[i-1])):
			j := i
			for j < len(text) && (text[j] >= '0' && text[j] <= '9' || text[j] == '.') {
				j++
			}
			if j < len(text) && identChar(text[j]) {
				return "", "", nil, false // 1e5, 0x1f, 1_000, 1from: not lexed here
			}
			b.WriteByte('?')
			consts = append(consts, constToken{start: i, end: j, numeric: true})
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
	return b.String(), text, consts, true
}
