package httpgw

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/export"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/policy"
)

// contentKind is how a response body is inspected.
type contentKind int

const (
	kindOpaque contentKind = iota // not inspected (images, PDF, …)
	kindJSON
	kindHTML
	kindText
	kindCSV
	kindXLSX
)

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func kindOf(h http.Header) contentKind {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case mt == "application/json", mt == "application/x-ndjson", mt == "application/ndjson",
		strings.HasSuffix(mt, "+json"), mt == "text/json":
		return kindJSON
	case mt == "text/html", mt == "application/xhtml+xml":
		return kindHTML
	case mt == "text/csv", mt == "application/csv", mt == "text/tab-separated-values":
		return kindCSV
	case mt == xlsxType:
		return kindXLSX
	case strings.HasPrefix(mt, "text/"), mt == "application/xml", mt == "application/javascript",
		strings.HasSuffix(mt, "+xml"):
		return kindText
	case mt == "":
		return kindText // unlabelled bodies are read as text: fail closed
	}
	return kindOpaque
}

func isExport(h http.Header, k contentKind) bool {
	return k == kindCSV || k == kindXLSX || strings.HasPrefix(strings.ToLower(h.Get("Content-Disposition")), "attachment")
}

// modifyResponse is where every response of a protected route is judged:
// inspected, decided, masked, recorded durably, and only then released.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	x, _ := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if x == nil || x.public {
		return nil
	}
	ctx := resp.Request.Context()
	x.status = resp.StatusCode
	if resp.StatusCode >= 400 {
		x.outcome = custos.OutcomeFailure
	}
	kind := kindOf(resp.Header)
	if isExport(resp.Header, kind) && (x.action == custos.ActionRead || x.action == custos.ActionSearch) {
		x.action = custos.ActionExport
	}
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	noBody := resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.Request.Method == http.MethodHead
	if !noBody && kind != kindOpaque && !supportedEncoding(enc) {
		// An encoding the gateway cannot read (br, zstd) fails closed.
		x.decision.Effect = custos.DecisionDeny
		x.decision.Rules = []string{"uninspectable"}
		return g.refuseResponse(ctx, resp, x)
	}
	ws := resp.StatusCode == http.StatusSwitchingProtocols && isWebSocket(resp.Header)
	if ws && resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		// Not offered (the gateway strips the client's offer): compressed
		// frames could not be inspected.
		x.decision.Effect = custos.DecisionDeny
		x.decision.Rules = []string{"uninspectable"}
		return g.refuseResponse(ctx, resp, x)
	}
	if noBody || kind == kindOpaque {
		// Upgrades, bodiless answers and content the gateway cannot read
		// pass as they are, with their event recorded first; a
		// WebSocket's text messages are inspected as they come.
		if x.action == custos.ActionExport || x.decision.Effect == "" {
			x.decision = g.decide(ctx, x, true)
			if refused(x.decision.Effect) {
				return g.refuseResponse(ctx, resp, x)
			}
		}
		if resp.ContentLength > 0 {
			x.bytes = resp.ContentLength
		}
		if err := g.record(ctx, x); err != nil {
			return err
		}
		if ws {
			return g.inspectWebSocket(ctx, resp, x)
		}
		return nil
	}
	decoded, err := decodeBody(enc, resp.Body)
	if err != nil {
		return fmt.Errorf("httpgw: decode %s body: %w", enc, err)
	}
	head, err := readHead(decoded, resp.ContentLength, enc, g.cfg.MaxBufferBytes)
	if err != nil {
		return fmt.Errorf("httpgw: read response: %w", err)
	}
	if int64(len(head)) <= g.cfg.MaxBufferBytes {
		resp.Body.Close()
		return g.buffered(ctx, resp, x, kind, enc, head)
	}
	return g.streamed(ctx, resp, x, kind, enc, io.MultiReader(bytes.NewReader(head), decoded))
}

// readHead reads up to max+1 bytes of the (decoded) body, in one
// allocation when the length is known.
func readHead(r io.Reader, length int64, enc string, max int64) ([]byte, error) {
	if length >= 0 && length <= max && (enc == "" || enc == "identity") {
		buf := make([]byte, length, length+1)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		// A body longer than announced is the transport's error to report.
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(r, max+1))
}

func supportedEncoding(enc string) bool {
	switch enc {
	case "", "identity", "gzip", "x-gzip", "deflate":
		return true
	}
	return false
}

func decodeBody(enc string, r io.Reader) (io.Reader, error) {
	switch enc {
	case "gzip", "x-gzip":
		return gzip.NewReader(r)
	case "deflate":
		return zlib.NewReader(r)
	}
	return r, nil
}

// encodeBody returns a writer compressing into w as enc says (nil for no
// encoding).
func encodeBody(enc string, w io.Writer) io.WriteCloser {
	switch enc {
	case "gzip", "x-gzip":
		return gzip.NewWriter(w)
	case "deflate":
		return zlib.NewWriter(w)
	}
	return nil
}

// limitedHeader tells the client that a limit decision cut the response:
// "10 of 37" records.
const limitedHeader = "Custos-Limited"

// limitFor asks the policy, before any quota counts, whether a limit rule
// caps this response below the records it holds: the records of its
// structure (JSON record arrays, CSV rows), else its distinct subjects.
func (g *Gateway) limitFor(ctx context.Context, x *exchange, in *inspection) (pre policy.Decision, n int64, over bool) {
	n = int64(in.records)
	if n < 0 {
		n = x.records
	}
	if n <= 1 || g.deps.Policy == nil {
		return pre, n, false
	}
	pre = g.decide(ctx, x, false)
	return pre, n, !refused(pre.Effect) && pre.Limit > 0 && n > pre.Limit
}

// refuseLimited refuses a response over the limit of decision d that the
// gateway cannot cut (HTML, XLSX, a body too large to hold): 403
// "limited". n < 0 when the records could not be counted.
func (g *Gateway) refuseLimited(ctx context.Context, resp *http.Response, x *exchange, d policy.Decision, n int64) error {
	x.decision = policy.Decision{Effect: custos.DecisionDeny, Rules: append(slices.Clip(d.Rules), "limited"), Reason: "record limit"}
	x.limited = [2]int64{d.Limit, n}
	return g.refuseResponse(ctx, resp, x)
}

// refusedUpgrade is a protocol switch refused after the upstream agreed
// to it; proxyError answers 403.
type refusedUpgrade struct{ code, msg string }

func (e *refusedUpgrade) Error() string { return "httpgw: upgrade refused: " + e.code }

// refuseResponse replaces the upstream's response by the refusal and
// records it.
func (g *Gateway) refuseResponse(ctx context.Context, resp *http.Response, x *exchange) error {
	x.outcome = custos.OutcomeFailure
	x.status = http.StatusForbidden
	x.bytes = 0
	if err := g.record(ctx, x); err != nil {
		return err
	}
	code, msg := refusalText(x.decision)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The proxy switches protocols after ModifyResponse whatever it
		// returns, unless it fails: the refusal goes out as an error.
		return &refusedUpgrade{code: code, msg: msg}
	}
	resp.Body.Close()
	if x.limited[0] > 0 {
		code = "limited"
		held := "more"
		if x.limited[1] > 0 {
			held = strconv.FormatInt(x.limited[1], 10)
		}
		msg = fmt.Sprintf("Custos policy limits this access to %d records (rules: %s); this response holds %s "+
			"and cannot be cut to the limit. Narrow the request (a more precise search, a smaller page) and try again.",
			x.limited[0], strings.Join(x.decision.Rules, ", "), held)
	}
	rec := newRecorder()
	writeProblem(rec, resp.Request, http.StatusForbidden, code, msg)
	resp.StatusCode = http.StatusForbidden
	resp.Status = "403 Forbidden"
	resp.Header = rec.header
	resp.Header.Set("Content-Length", strconv.Itoa(rec.body.Len()))
	resp.ContentLength = int64(rec.body.Len())
	resp.Body = io.NopCloser(&rec.body)
	return nil
}

// buffered judges a whole body, decides with everything it reveals (so
// quotas count every subject before anything is released), masks it and
// records the event.
func (g *Gateway) buffered(ctx context.Context, resp *http.Response, x *exchange, kind contentKind, enc string, body []byte) error {
	in := g.pool.Get().(*inspection)
	defer g.pool.Put(in)
	in.reset(g.fieldsOf(x))
	apply, err := g.prepare(kind, body, in)
	if err != nil {
		// Content the gateway cannot read fails closed.
		x.decision.Effect = custos.DecisionDeny
		x.decision.Rules = []string{"uninspectable"}
		return g.refuseResponse(ctx, resp, x)
	}
	g.collect(x, in)
	var limited [2]int64 // {limit, records held} once cut
	if pre, n, over := g.limitFor(ctx, x, in); over {
		limit := pre.Limit
		if in.cut == nil {
			return g.refuseLimited(ctx, resp, x, pre, n)
		}
		// Cut to the limit before the final decision, so that quotas and
		// the event count only the records released.
		if body = in.cut(int(limit)); body == nil {
			return g.refuseLimited(ctx, resp, x, pre, n)
		}
		in.reset(g.fieldsOf(x))
		if apply, err = g.prepare(kind, body, in); err != nil {
			return fmt.Errorf("httpgw: inspect limited response: %w", err)
		}
		g.collect(x, in)
		limited = [2]int64{limit, n}
	}
	x.decision = g.decide(ctx, x, true)
	if refused(x.decision.Effect) {
		return g.refuseResponse(ctx, resp, x) // a quota, say: not the limit's refusal
	}
	if x.limited = limited; limited[0] > 0 {
		x.decision.Rules = append(slices.Clip(x.decision.Rules), "limited")
		resp.Header.Set(limitedHeader, fmt.Sprintf("%d of %d", x.limited[0], x.limited[1]))
	}
	out := body
	vm := valueMasker{m: g.deps.Masker, d: x.decision}
	if vm.active() {
		if out, err = apply(vm); err != nil {
			return fmt.Errorf("httpgw: mask response: %w", err)
		}
	}
	var ex *export.Export
	if x.action == custos.ActionExport && g.deps.Exports != nil {
		switch kind {
		case kindCSV:
			out, ex, err = g.markCSV(x, out)
		case kindXLSX:
			out, ex, err = g.markXLSX(x, out)
		}
		if err != nil {
			return fmt.Errorf("httpgw: fingerprint export: %w", err)
		}
	}
	if enc != "" && enc != "identity" {
		var zb bytes.Buffer
		zw := encodeBody(enc, &zb)
		zw.Write(out)
		zw.Close()
		out = zb.Bytes()
	}
	if !bytes.Equal(out, body) || enc != "" {
		resp.Header.Del("ETag")
		resp.Header.Del("Content-MD5")
	}
	x.bytes = int64(len(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Del("Transfer-Encoding")
	resp.Body = io.NopCloser(bytes.NewReader(out))
	if err := g.record(ctx, x); err != nil {
		return err
	}
	if ex != nil {
		// Like the event: the download is released only once registered.
		if err := g.deps.Exports.RegisterExport(ctx, *ex); err != nil {
			return &durableError{err: fmt.Errorf("register export: %w", err)}
		}
	}
	return nil
}

func (g *Gateway) fieldsOf(x *exchange) map[string]catalog.Field {
	if x.ep == nil || len(x.ep.fields) == 0 {
		return nil
	}
	return x.ep.fields
}

// collect copies what an inspection found into the exchange.
func (g *Gateway) collect(x *exchange, in *inspection) {
	x.types = slices.Clone(in.types)
	x.cats = slices.Clone(in.cats)
	x.subjects = slices.Clone(x.reqSubjects)
	x.respHashes = x.respHashes[:0]
	for i, h := range in.hashes {
		if slices.Contains(x.reqHashes, h) {
			continue // named by the request too: one subject
		}
		x.subjects = append(x.subjects, in.subjects[i])
		x.respHashes = append(x.respHashes, h)
	}
	x.records = int64(len(in.subjects))
	if x.records == 0 && len(in.types) > 0 {
		x.records = 1
	}
}

// applier produces the masked body once the decision is known.
type applier func(vm valueMasker) ([]byte, error)

// prepare judges a whole body and returns how to mask it.
func (g *Gateway) prepare(kind contentKind, body []byte, in *inspection) (applier, error) {
	switch kind {
	case kindJSON:
		if a, ok := prepareJSON(body, in); ok {
			return a, nil
		}
		in.reset(in.fields)
		return prepareText(body, in), nil // labelled JSON, but not JSON
	case kindCSV:
		if a, ok := prepareCSV(body, in); ok {
			return a, nil
		}
		in.reset(in.fields)
		return prepareText(body, in), nil
	case kindXLSX:
		return prepareXLSX(body, in)
	case kindHTML:
		return prepareHTML(body, in), nil
	default:
		return prepareText(body, in), nil
	}
}

type jsonEdit struct {
	start, end int64
	val        []byte
	f          finding
}

// judgeJSON judges one JSON scalar.
func (in *inspection) judgeJSON(kind byte, raw, path, key []byte) ([]byte, finding, bool) {
	field, hasField := in.fields[string(path)]
	var val []byte
	if kind == kindString {
		v, ok := jsonStringValue(raw)
		if !ok {
			return nil, finding{}, false
		}
		val = v
	} else {
		if !hasField && !(len(raw) >= 11 && allDigits(raw)) {
			return nil, finding{}, false
		}
		val = raw
	}
	var hint custos.DataType
	if key != nil {
		hint = in.hint(key)
	}
	f, ok := in.judge(val, field, hasField, hint)
	return val, f, ok
}

func (in *inspection) hint(key []byte) custos.DataType {
	if t, ok := in.hints[string(key)]; ok {
		return t
	}
	t, _ := pii.ColumnHint(string(key))
	if in.hints == nil {
		in.hints = map[string]custos.DataType{}
	}
	if len(in.hints) < 4096 {
		in.hints[string(key)] = t
	}
	return t
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func prepareJSON(body []byte, in *inspection) (applier, bool) {
	edits := in.edits[:0]
	defer func() { in.edits = edits[:0] }()
	recs := &jsonRecords{}
	rw := newJSONRewriter(io.Discard, func(kind byte, raw, path, key []byte, off int64) []byte {
		val, f, ok := in.judgeJSON(kind, raw, path, key)
		if ok {
			f.matches = in.keepMatches(f.matches)
			// val is a slice of body, or a fresh copy when it had escapes.
			edits = append(edits, jsonEdit{start: off, end: off + int64(len(raw)), val: val, f: f})
		}
		return nil
	})
	rw.rec = recs
	if _, err := rw.Write(body); err != nil {
		return nil, false
	}
	if rw.Close() != nil {
		return nil, false
	}
	switch n := recs.count(); {
	case n > 0:
		in.records = n
		in.cut = func(limit int) []byte { return recs.cut(body, limit) }
	case !in.keyed:
		// One document with no list in it is one record, whatever
		// identifiers it holds; with a catalogue subject key its
		// distinct keys are the records (in.records stays -1).
		in.records = 1
	}
	return func(vm valueMasker) ([]byte, error) {
		if len(edits) == 0 {
			return body, nil
		}
		out := make([]byte, 0, len(body)+len(body)/8)
		last := int64(0)
		for _, e := range edits {
			out = append(out, body[last:e.start]...)
			out = appendMaskedJSON(out, body[e.start:e.end], e.val, e.f, vm)
			last = e.end
		}
		return append(out, body[last:]...), nil
	}, true
}

// appendMaskedJSON appends the JSON scalar replacing raw: what vm.apply
// would give, escaped straight into dst (no string built per value).
func appendMaskedJSON(dst, raw, val []byte, f finding, vm valueMasker) []byte {
	if !vm.active() {
		return append(dst, raw...)
	}
	if f.whole {
		s, null, _ := vm.apply(val, f)
		if null {
			return append(dst, "null"...)
		}
		return appendJSONString(dst, s)
	}
	dst = append(dst, '"')
	last := 0
	for _, m := range f.matches {
		dst = appendJSONEscaped(dst, val[last:m.Offset])
		if s, null := vm.one(m.Type, string(val[m.Offset:m.Offset+m.Length])); !null {
			dst = appendJSONEscaped(dst, s)
		}
		last = m.Offset + m.Length
	}
	dst = appendJSONEscaped(dst, val[last:])
	return append(dst, '"')
}

func prepareText(body []byte, in *inspection) applier {
	ms := in.det.AppendMatches(nil, body)
	for _, m := range ms {
		in.noteMatch(body, m)
	}
	return func(vm valueMasker) ([]byte, error) {
		if len(ms) == 0 {
			return body, nil
		}
		out := make([]byte, 0, len(body))
		last := 0
		for _, m := range ms {
			out = append(out, body[last:m.Offset]...)
			s, _ := vm.one(m.Type, string(body[m.Offset:m.Offset+m.Length]))
			out = append(out, s...)
			last = m.Offset + m.Length
		}
		return append(out, body[last:]...), nil
	}
}

type cellEdit struct {
	sheet    string
	row, col int
	val      string
	f        finding
}

// columnJudge judges the cells of one table: the header row names the
// columns (catalogue field, then the name's hint).
type columnJudge struct {
	fields   []catalog.Field
	hasField []bool
	hints    []custos.DataType
}

func newColumnJudge(in *inspection, header []string) columnJudge {
	cj := columnJudge{fields: make([]catalog.Field, len(header)), hasField: make([]bool, len(header)), hints: make([]custos.DataType, len(header))}
	for i, h := range header {
		h = strings.TrimSpace(h)
		cj.fields[i], cj.hasField[i] = in.fields[h]
		cj.hints[i], _ = pii.ColumnHint(h)
	}
	return cj
}

func (cj columnJudge) judge(in *inspection, col int, v string) (finding, bool) {
	var field catalog.Field
	var has bool
	var hint custos.DataType
	if col < len(cj.fields) {
		field, has, hint = cj.fields[col], cj.hasField[col], cj.hints[col]
	}
	f, ok := in.judge([]byte(v), field, has, hint)
	f.matches = slices.Clone(f.matches)
	return f, ok
}

func prepareCSV(body []byte, in *inspection) (applier, bool) {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	if bytes.Count(body[:min(len(body), 4096)], []byte("\t")) > bytes.Count(body[:min(len(body), 4096)], []byte(",")) {
		r.Comma = '\t'
	}
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, false
	}
	cj := newColumnJudge(in, rows[0])
	var edits []cellEdit
	for i, row := range rows[1:] {
		for j, v := range row {
			if f, ok := cj.judge(in, j, v); ok {
				edits = append(edits, cellEdit{row: i + 1, col: j, f: f})
			}
		}
	}
	crlf := bytes.Contains(body, []byte("\r\n"))
	in.records = len(rows) - 1
	in.cut = func(limit int) []byte {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Comma = r.Comma
		w.UseCRLF = crlf
		w.WriteAll(rows[:min(len(rows), limit+1)]) // a bytes.Buffer does not fail
		return b.Bytes()
	}
	return func(vm valueMasker) ([]byte, error) {
		if len(edits) == 0 {
			return body, nil
		}
		for _, e := range edits {
			v := rows[e.row][e.col]
			if s, _, ok := vm.apply([]byte(v), e.f); ok {
				rows[e.row][e.col] = s
			}
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Comma = r.Comma
		w.UseCRLF = crlf
		if err := w.WriteAll(rows); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}, true
}

// xlsxSheet is one worksheet's values as the user sees them.
type xlsxSheet struct {
	name     string
	rows     [][]string
	personal bool // holds a cell judged to be personal data
}

// prepareXLSX judges every sheet of a workbook, the header row naming the
// columns as for CSV. Its records are the data rows of the sheets holding
// personal data. A masked or cut workbook is written anew from its values:
// excelize keeps a replaced cell's old text in the shared-strings part, so
// masking the workbook in place would still ship every raw value.
func prepareXLSX(body []byte, in *inspection) (applier, error) {
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("httpgw: read xlsx: %w", err)
	}
	defer f.Close()
	var sheets []xlsxSheet
	var edits []cellEdit
	for _, name := range f.GetSheetList() {
		rows, err := f.GetRows(name)
		if err != nil {
			return nil, fmt.Errorf("httpgw: read xlsx sheet: %w", err)
		}
		sh := xlsxSheet{name: name, rows: rows}
		if len(rows) > 0 {
			cj := newColumnJudge(in, rows[0])
			for i, row := range rows[1:] {
				for j, v := range row {
					if fd, ok := cj.judge(in, j, v); ok {
						edits = append(edits, cellEdit{sheet: name, row: i + 1, col: j, val: v, f: fd})
						sh.personal = true
					}
				}
			}
		}
		sheets = append(sheets, sh)
	}
	records := 0
	for _, sh := range sheets {
		if sh.personal {
			records += len(sh.rows) - 1
		}
	}
	if records > 0 {
		in.records = records
		in.cut = func(limit int) []byte { return cutXLSX(sheets, limit) }
	}
	return func(vm valueMasker) ([]byte, error) {
		if len(edits) == 0 {
			return body, nil
		}
		changed := false
		for _, e := range edits {
			s, _, ok := vm.apply([]byte(e.val), e.f)
			if !ok {
				continue
			}
			for i := range sheets {
				if sheets[i].name == e.sheet {
					sheets[i].rows[e.row][e.col] = s
					changed = true
				}
			}
		}
		if !changed {
			return body, nil
		}
		return writeWorkbook(sheets)
	}, nil
}

// cutXLSX keeps the header row and the first limit data rows of the sheets
// holding personal data, in sheet order; other sheets are kept whole.
// The result is nil when the workbook cannot be written (the response is
// then refused).
func cutXLSX(sheets []xlsxSheet, limit int) []byte {
	out := make([]xlsxSheet, len(sheets))
	left := limit
	for i, sh := range sheets {
		out[i] = sh
		if !sh.personal || len(sh.rows) == 0 {
			continue
		}
		keep := min(len(sh.rows)-1, left)
		out[i].rows = sh.rows[:1+keep]
		left -= keep
	}
	b, err := writeWorkbook(out)
	if err != nil {
		return nil
	}
	return b
}

// writeWorkbook writes sheets as a new workbook of string cells (cell
// styles, formulas and number formats are not carried over).
func writeWorkbook(sheets []xlsxSheet) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	first := f.GetSheetName(0)
	for i, sh := range sheets {
		if i == 0 {
			if err := f.SetSheetName(first, sh.name); err != nil {
				return nil, fmt.Errorf("httpgw: write xlsx: %w", err)
			}
		} else if _, err := f.NewSheet(sh.name); err != nil {
			return nil, fmt.Errorf("httpgw: write xlsx: %w", err)
		}
		sw, err := f.NewStreamWriter(sh.name)
		if err != nil {
			return nil, fmt.Errorf("httpgw: write xlsx: %w", err)
		}
		for r, row := range sh.rows {
			if len(row) == 0 {
				continue
			}
			cells := make([]any, len(row))
			for j, v := range row {
				cells[j] = v
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+1)
			if err := sw.SetRow(cell, cells); err != nil {
				return nil, fmt.Errorf("httpgw: write xlsx: %w", err)
			}
		}
		if err := sw.Flush(); err != nil {
			return nil, fmt.Errorf("httpgw: write xlsx: %w", err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		return nil, fmt.Errorf("httpgw: write xlsx: %w", err)
	}
	return b.Bytes(), nil
}

// recorder is a minimal ResponseWriter for building a replacement body.
type recorder struct {
	header http.Header
	body   bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{header: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(int)             {}
