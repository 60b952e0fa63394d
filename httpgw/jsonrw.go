package httpgw

import (
	"encoding/json"
	"errors"
	"io"
)

// errJSONSyntax ends JSON rewriting: the body is not JSON.
var errJSONSyntax = errors.New("httpgw: response is not valid JSON")

// maxJSONToken bounds one string or number token held while it is judged.
// A longer token fails the rewrite (the gateway answers fail-closed) rather
// than passing unseen.
const maxJSONToken = 4 << 20

// Token kinds passed to a jsonRewriter's callback.
const (
	kindString = 's'
	kindNumber = 'n'
)

// jsonValueFunc judges one scalar value: raw is its JSON text (a string
// with its quotes), path its location ($.a.b[*].c), key the last member
// name (nil inside arrays), off its offset in the whole input. It returns
// the JSON text to write in its place, or nil to keep it.
type jsonValueFunc func(kind byte, raw, path, key []byte, off int64) []byte

type jsonState uint8

const (
	stValue        jsonState = iota // a value must come
	stValueOrClose                  // after '[': a value or ']'
	stKeyOrClose                    // after '{': a key or '}'
	stKey                           // after ',' in an object
	stColon                         // after a key
	stAfterValue                    // ',' or a closing bracket
	stTop                           // between top-level values
	stString                        // inside a value string
	stKeyString                     // inside a key string
	stNumber                        // inside a number
	stLiteral                       // inside true/false/null
)

type jsonFrame struct {
	object bool
	base   int   // len(path) when the container opened
	open   int64 // offset of the opening bracket
}

// jsonRecords is where a document's records are, for a limit decision
// that caps them: the elements of its outermost arrays of objects (or of
// arrays) — a top-level array, or a member like $.items — or, when the
// input holds several top-level values (NDJSON), those values.
type jsonRecords struct {
	arrays []recordArray
	depth  int     // len(stack) with the current record array on top; 0: none open
	tops   []int64 // start offsets of the top-level values
}

// recordArray is one array of records: its brackets and the commas
// between its elements.
type recordArray struct {
	open, close int64
	commas      []int64
}

// count is how many records the document holds.
func (r *jsonRecords) count() int {
	if len(r.tops) > 1 {
		return len(r.tops)
	}
	n := 0
	for _, a := range r.arrays {
		n += len(a.commas) + 1
	}
	return n
}

// cut returns body with only its first limit records: later elements of
// the record arrays (and whole arrays once the limit is spent) are left
// out, so the document keeps its structure with shorter arrays.
func (r *jsonRecords) cut(body []byte, limit int) []byte {
	if len(r.tops) > 1 {
		if limit >= len(r.tops) {
			return body
		}
		return body[:r.tops[limit]]
	}
	out := make([]byte, 0, len(body))
	last := int64(0)
	budget := limit
	for _, a := range r.arrays {
		n := len(a.commas) + 1
		if budget >= n {
			budget -= n
			continue
		}
		from := a.open + 1
		if budget > 0 {
			from = a.commas[budget-1]
		}
		budget = 0
		out = append(out, body[last:from]...)
		last = a.close
	}
	return append(out, body[last:]...)
}

// jsonRewriter rewrites a JSON stream (one document or several, as NDJSON)
// token by token, as bytes arrive: every string and number value is shown
// to a callback that may replace it; everything else is copied unchanged.
// It holds only the token being read and the path, so a document of any
// size streams through. The output of valid JSON is valid JSON with the
// same structure: the callback's replacements must themselves be one JSON
// scalar (writeJSONString makes one).
type jsonRewriter struct {
	out     io.Writer
	onValue jsonValueFunc

	state    jsonState
	escape   bool
	stack    []jsonFrame
	path     []byte
	key      []byte // last member name (raw, without quotes)
	tok      []byte // the scalar or key being read
	tokStart int64
	off      int64 // offset of the next input byte
	pending  []byte
	discard  bool // out is io.Discard: judge only, build no output
	err      error
	// rec, when set, notes where the records are (buffered bodies only:
	// it keeps offsets of the whole input).
	rec *jsonRecords
}

func newJSONRewriter(out io.Writer, onValue jsonValueFunc) *jsonRewriter {
	return &jsonRewriter{out: out, onValue: onValue, state: stTop, path: append(make([]byte, 0, 64), '$'), discard: out == io.Discard}
}

// Write consumes p. After a syntax error it returns errJSONSyntax; the
// bytes before the error have been written (up to the start of the token
// in progress).
func (j *jsonRewriter) Write(p []byte) (int, error) {
	if j.err != nil {
		return 0, j.err
	}
	j.pending = j.pending[:0]
	start := 0 // first byte of p not yet copied out or held in tok
	flush := func(end int) {
		if end > start && !j.discard {
			j.pending = append(j.pending, p[start:end]...)
		}
		start = end
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
	again:
		switch j.state {
		case stString, stKeyString:
			if j.escape {
				j.escape = false
				continue
			}
			if c == '\\' {
				j.escape = true
				continue
			}
			if c < 0x20 {
				return j.fail(flush, i)
			}
			if c != '"' {
				continue
			}
			raw := j.take(p[start : i+1])
			start = i + 1
			if len(raw) > maxJSONToken {
				return j.fail(flush, i)
			}
			if j.state == stKeyString {
				if !j.discard {
					j.pending = append(j.pending, raw...)
				}
				j.key = append(j.key[:0], raw[1:len(raw)-1]...)
				top := j.stack[len(j.stack)-1]
				j.path = append(append(j.path[:top.base], '.'), j.key...)
				j.tok = j.tok[:0]
				j.state = stColon
				continue
			}
			j.emitScalar(kindString, raw)
			j.state = stAfterValue
		case stNumber, stLiteral:
			if isNumberByte(c) || (j.state == stLiteral && c >= 'a' && c <= 'z') {
				continue
			}
			raw := j.take(p[start:i])
			start = i
			if !j.scalarValid(raw) {
				return j.fail(flush, i)
			}
			if j.state == stNumber {
				j.emitScalar(kindNumber, raw)
			} else {
				if !j.discard {
					j.pending = append(j.pending, raw...)
				}
				j.tok = j.tok[:0]
			}
			j.state = stAfterValue
			goto again
		default:
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				continue
			}
			switch j.state {
			case stValue, stValueOrClose, stTop:
				if j.state == stValueOrClose && c == ']' {
					j.pop()
					continue
				}
				if j.rec != nil {
					j.noteValue(c, j.off+int64(i))
				}
				switch {
				case c == '{':
					j.stack = append(j.stack, jsonFrame{object: true, base: len(j.path)})
					j.state = stKeyOrClose
				case c == '[':
					j.stack = append(j.stack, jsonFrame{base: len(j.path), open: j.off + int64(i)})
					j.path = append(j.path, "[*]"...)
					j.state = stValueOrClose
				case c == '"':
					flush(i)
					j.tokStart = j.off + int64(i)
					j.state = stString
				case c == '-' || (c >= '0' && c <= '9'):
					flush(i)
					j.tokStart = j.off + int64(i)
					j.state = stNumber
				case c == 't' || c == 'f' || c == 'n':
					flush(i)
					j.tokStart = j.off + int64(i)
					j.state = stLiteral
				default:
					return j.fail(flush, i)
				}
			case stKeyOrClose, stKey:
				if j.state == stKeyOrClose && c == '}' {
					j.pop()
					continue
				}
				if c != '"' {
					return j.fail(flush, i)
				}
				flush(i)
				j.state = stKeyString
			case stColon:
				if c != ':' {
					return j.fail(flush, i)
				}
				j.state = stValue
			case stAfterValue:
				if len(j.stack) == 0 {
					j.state = stTop
					goto again
				}
				top := j.stack[len(j.stack)-1]
				inRecords := j.rec != nil && j.rec.depth == len(j.stack)
				switch {
				case c == ',' && top.object:
					j.state = stKey
				case c == ',':
					if inRecords {
						a := &j.rec.arrays[len(j.rec.arrays)-1]
						a.commas = append(a.commas, j.off+int64(i))
					}
					j.state = stValue
				case c == '}' && top.object, c == ']' && !top.object:
					if inRecords {
						j.rec.arrays[len(j.rec.arrays)-1].close = j.off + int64(i)
						j.rec.depth = 0
					}
					j.pop()
				default:
					return j.fail(flush, i)
				}
			}
		}
	}
	// Hold an unfinished token; copy out the rest.
	switch j.state {
	case stString, stKeyString, stNumber, stLiteral:
		j.tok = append(j.tok, p[start:]...)
		if len(j.tok) > maxJSONToken {
			j.err = errJSONSyntax
		}
	default:
		flush(len(p))
	}
	j.off += int64(len(p))
	if len(j.pending) > 0 && !j.discard {
		if _, err := j.out.Write(j.pending); err != nil {
			j.err = err
			return 0, err
		}
	}
	if j.err != nil {
		return 0, j.err
	}
	return len(p), nil
}

// noteValue notes a value starting with c at off for the record map: a
// top-level value, or the first element of an array, which makes the
// array a record array when that element is an object or array and no
// record array is open around it.
func (j *jsonRewriter) noteValue(c byte, off int64) {
	switch {
	case j.state == stTop:
		j.rec.tops = append(j.rec.tops, off)
	case j.state == stValueOrClose && j.rec.depth == 0 && (c == '{' || c == '['):
		j.rec.arrays = append(j.rec.arrays, recordArray{open: j.stack[len(j.stack)-1].open})
		j.rec.depth = len(j.stack)
	}
}

func (j *jsonRewriter) fail(flush func(int), i int) (int, error) {
	flush(i)
	if len(j.pending) > 0 {
		j.out.Write(j.pending)
	}
	j.err = errJSONSyntax
	return 0, j.err
}

func (j *jsonRewriter) pop() {
	top := j.stack[len(j.stack)-1]
	j.stack = j.stack[:len(j.stack)-1]
	j.path = j.path[:top.base]
	if len(j.stack) == 0 {
		j.state = stTop
	} else {
		j.state = stAfterValue
	}
}

// Close ends the input: it reports a syntax error for a document cut short.
func (j *jsonRewriter) Close() error {
	if j.err != nil {
		return j.err
	}
	if j.state == stNumber || j.state == stLiteral {
		if !j.scalarValid(j.tok) {
			return errJSONSyntax
		}
		j.pending = j.pending[:0]
		if j.state == stNumber {
			j.emitScalar(kindNumber, j.tok)
		} else if !j.discard {
			j.pending = append(j.pending, j.tok...)
		}
		j.state = stTop
		if _, err := j.out.Write(j.pending); err != nil {
			return err
		}
	}
	if (j.state != stTop && j.state != stAfterValue) || len(j.stack) != 0 {
		return errJSONSyntax
	}
	return nil
}

// take completes the token ending in p: p itself when the token started
// in this chunk (no copy), else the held bytes with p appended.
func (j *jsonRewriter) take(p []byte) []byte {
	if len(j.tok) == 0 {
		return p
	}
	j.tok = append(j.tok, p...)
	return j.tok
}

// emitScalar judges the token raw and appends it, or its replacement, to
// the pending output.
func (j *jsonRewriter) emitScalar(kind byte, raw []byte) {
	var key []byte
	if len(j.stack) > 0 && j.stack[len(j.stack)-1].object {
		key = j.key
	}
	repl := j.onValue(kind, raw, j.path, key, j.tokStart)
	if !j.discard {
		if repl != nil {
			j.pending = append(j.pending, repl...)
		} else {
			j.pending = append(j.pending, raw...)
		}
	}
	j.tok = j.tok[:0]
}

func (j *jsonRewriter) scalarValid(raw []byte) bool {
	if j.state == stLiteral {
		s := string(raw)
		return s == "true" || s == "false" || s == "null"
	}
	return validNumber(raw)
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// validNumber checks the JSON number grammar.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(b)
}

// jsonStringValue decodes a JSON string token (with quotes). Strings
// without escapes are returned without copying.
func jsonStringValue(raw []byte) ([]byte, bool) {
	inner := raw[1 : len(raw)-1]
	hasEscape := false
	for _, c := range inner {
		if c == '\\' {
			hasEscape = true
			break
		}
	}
	if !hasEscape {
		return inner, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONEscaped(dst, s)
	return append(dst, '"')
}

// appendJSONEscaped appends s escaped for the inside of a JSON string.
func appendJSONEscaped[T ~string | ~[]byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
