package httpgw

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/pii"
	"github.com/custos-dev/custos/policy"
)

// errRefusedLate cuts a streamed response that the decision on its whole
// body refused (a quota).
var errRefusedLate = errors.New("httpgw: streamed response refused by policy after inspection")

// holdBack is how many bytes of a streamed response stay in the gateway
// until its access event is durable: without them the client does not
// have the whole document.
const holdBack = 1

// streamed rewrites a response too large to buffer as it flows. The
// decision that masks it is taken before the first byte with the subjects
// the request names and the catalogue's types; at the end the subjects
// found in the body are decided again (quotas count them) before the
// withheld tail is released, and recorded in the event.
func (g *Gateway) streamed(ctx context.Context, resp *http.Response, x *exchange, kind contentKind, enc string, src io.Reader) error {
	x.decision = g.decide(ctx, x, true)
	if refused(x.decision.Effect) {
		return g.refuseResponse(ctx, resp, x)
	}
	if x.decision.Limit > 0 {
		// A limit needs the records counted before the first byte goes
		// out; a body this large is refused rather than cut mid-way.
		return g.refuseLimited(ctx, resp, x, x.decision, -1)
	}
	if kind == kindXLSX {
		x.decision.Effect = custos.DecisionDeny
		x.decision.Rules = append(x.decision.Rules[:len(x.decision.Rules):len(x.decision.Rules)], "too_large_to_inspect")
		return g.refuseResponse(ctx, resp, x)
	}
	in := g.pool.Get().(*inspection)
	in.reset(g.fieldsOf(x))
	s := &streamBody{g: g, x: x, ctx: ctx, src: src, upstream: resp.Body, in: in, buf: make([]byte, 32<<10)}
	var sink io.Writer = &s.out
	if zw := encodeBody(enc, &s.out); zw != nil {
		s.enc = zw
		sink = zw
	}
	vm := valueMasker{m: g.deps.Masker, d: x.decision}
	if kind == kindJSON {
		s.rw = newJSONRewriter(sink, func(k byte, raw, path, key []byte, off int64) []byte {
			val, f, ok := in.judgeJSON(k, raw, path, key)
			if !ok {
				return nil
			}
			out := appendMaskedJSON(s.scratch[:0], raw, val, f, vm)
			s.scratch = out
			return out
		})
	} else {
		s.rw = &textRewriter{out: sink, in: in, replace: func(text []byte, m pii.Match) []byte {
			v, _ := vm.one(m.Type, string(text[m.Offset:m.Offset+m.Length]))
			return []byte(v)
		}}
	}
	resp.Header.Del("Content-Length")
	resp.Header.Del("ETag")
	resp.Header.Del("Content-MD5")
	resp.ContentLength = -1
	resp.Body = s
	return nil
}

type rewriteCloser interface {
	io.Writer
	Close() error
}

// streamBody is the response body the client reads: the upstream's body
// through the rewriter, the tail withheld until the event is durable.
type streamBody struct {
	g        *Gateway
	x        *exchange
	ctx      context.Context
	src      io.Reader
	upstream io.Closer
	in       *inspection
	rw       rewriteCloser
	enc      io.WriteCloser
	out      bytes.Buffer
	buf      []byte
	scratch  []byte
	written  int64
	done     bool
	err      error
	closed   bool
}

func (s *streamBody) Read(p []byte) (int, error) {
	for !s.done && s.out.Len() <= holdBack {
		n, err := s.src.Read(s.buf)
		if n > 0 {
			if _, werr := s.rw.Write(s.buf[:n]); werr != nil {
				s.abort(werr)
				break
			}
		}
		if err == io.EOF {
			s.finish()
			break
		}
		if err != nil {
			s.abort(err)
			break
		}
	}
	if s.err != nil {
		return 0, s.err
	}
	avail := s.out.Len()
	if !s.done {
		avail -= holdBack
	}
	if avail <= 0 {
		if s.done {
			return 0, io.EOF
		}
		return 0, nil
	}
	n, _ := s.out.Read(p[:min(len(p), avail)])
	s.written += int64(n)
	return n, nil
}

// finish completes the rewrite and makes the event durable before the
// withheld tail can be read.
func (s *streamBody) finish() {
	if err := s.rw.Close(); err != nil {
		s.abort(err)
		return
	}
	if s.enc != nil {
		if err := s.enc.Close(); err != nil {
			s.abort(err)
			return
		}
	}
	s.g.collect(s.x, s.in)
	if len(s.x.respHashes) > 0 {
		// Now that the whole body is known, its subjects count against
		// the quotas; over quota, the withheld tail is never sent, so the
		// client holds a cut, unusable document.
		d := s.g.decide(s.ctx, s.x, true)
		if !refused(d.Effect) && d.Limit > 0 && s.x.records > d.Limit {
			// A limit rule that only the subjects found bring in: the
			// tail is withheld as for a quota.
			d = policy.Decision{Effect: custos.DecisionDeny, Rules: append(slices.Clip(d.Rules), "limited"), Reason: "record limit"}
		}
		if refused(d.Effect) {
			s.x.decision = d
			s.x.outcome = custos.OutcomeFailure
			s.x.bytes = s.written
			s.out.Reset()
			s.err = errRefusedLate
			s.done = true
			if err := s.g.record(s.ctx, s.x); err != nil {
				s.g.log.Error("httpgw: access event not durable", "err", err, "system", s.x.route.System)
			}
			return
		}
	}
	s.x.bytes = s.written + int64(s.out.Len())
	if err := s.g.record(s.ctx, s.x); err != nil {
		s.g.log.Error("httpgw: access event not durable; response cut", "err", err, "system", s.x.route.System)
		s.err = err
		s.out.Reset()
	}
	s.done = true
}

// abort ends the response without its tail: the client sees a cut body.
func (s *streamBody) abort(err error) {
	s.err = err
	s.done = true
	s.out.Reset()
	s.x.outcome = custos.OutcomeError
	s.g.collect(s.x, s.in)
	s.x.bytes = s.written
	if rerr := s.g.record(context.WithoutCancel(s.ctx), s.x); rerr != nil {
		s.g.log.Error("httpgw: access event not durable", "err", rerr, "system", s.x.route.System)
	}
}

func (s *streamBody) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.x.recorded {
		// The client went away mid-body: what was sent is on record.
		s.x.outcome = custos.OutcomeError
		s.g.collect(s.x, s.in)
		s.x.bytes = s.written
		if err := s.g.record(context.WithoutCancel(s.ctx), s.x); err != nil {
			s.g.log.Error("httpgw: access event not durable", "err", err, "system", s.x.route.System)
		}
	}
	s.g.pool.Put(s.in)
	return s.upstream.Close()
}
