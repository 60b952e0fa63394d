package httpgw

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/custos-dev/custos"
)

// WebSocket inspection (RFC 6455). After the upgrade is decided and
// recorded, the upstream's connection is wrapped: what the application
// sends to the client goes through wsFrames, which passes control frames
// through as they come and holds each text message until it is whole
// (fragments joined, control frames between them forwarded at once),
// then inspects it with the JSON or text rules, decides it with the
// subjects it reveals (quotas count them), records one event for it if it
// reveals personal data, and sends it masked as one frame. A binary
// message is held the same way as long as it is valid UTF-8 (JSON or text
// sent as binary); at its first byte that is not, it is released as it
// came and the rest passes (images, protobuf). What the client sends goes
// through a second wsFrames: its text (and UTF-8 binary) messages are
// held, and the subjects they name are decided like a request's
// parameters before the application sees them. The gateway strips
// Sec-WebSocket-Extensions from the upgrade request, so frames arrive
// uncompressed (no permessage-deflate); an upstream that answers with an
// extension anyway is refused.

// WebSocket opcodes.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// Close codes the gateway sends when it ends a connection.
const (
	wsClosePolicy   = 1008 // a message the policy refuses
	wsCloseTooBig   = 1009 // a text message over max_buffer_bytes
	wsCloseProtocol = 1002 // a frame RFC 6455 does not allow
	wsCloseInternal = 1011 // the message's event could not be recorded
)

// wsError ends a connection with a close frame.
type wsError struct {
	code   uint16
	reason string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket %d: %s", e.code, e.reason) }

func wsProtocolError(reason string) error { return &wsError{wsCloseProtocol, reason} }

// wsFrames parses a stream of WebSocket frames fed in pieces of any size.
// Frames it passes through are copied out byte for byte as they arrive;
// text messages are collected and handed to onText whole, unmasked.
type wsFrames struct {
	// maxMessage bounds a text message held for inspection.
	maxMessage int
	// unmaskedOnly: frames must not be masked (server to client).
	unmaskedOnly bool
	// onMessage is handed each held message whole (op wsText or
	// wsBinary, msg unmasked) and raw, its frames as they came.
	onMessage func(op byte, msg, raw []byte, out *bytes.Buffer) error
	// keepRaw: keep every held message's frames as they came (for
	// onMessage); binary messages keep theirs anyway, to release them
	// unchanged.
	keepRaw bool

	hdr    [14]byte
	hdrLen int
	// The frame being read.
	inFrame bool
	fin     bool
	op      byte
	masked  bool
	key     [4]byte
	remain  uint64
	pos     uint64 // payload bytes read, for the masking key's phase
	pass    bool
	// The message being read: 0 none, else its opcode.
	msgOp byte
	msg   []byte
	raw   []byte // its frames as they came, when kept
	// msgPass: the message (binary, not UTF-8) is being passed through.
	msgPass bool
	checked int // bytes of a held binary message found valid UTF-8
}

// holdsRaw reports whether the current message's raw frames are kept.
func (f *wsFrames) holdsRaw() bool { return f.keepRaw || f.msgOp == wsBinary }

// headerSize is the length of a frame header whose first two bytes are
// b0, b1.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// feed parses p, appending what goes to the client to out.
func (f *wsFrames) feed(p []byte, out *bytes.Buffer) error {
	for len(p) > 0 {
		if !f.inFrame {
			// Collect the header.
			need := 2
			if f.hdrLen >= 2 {
				need = headerSize(f.hdr[1])
			}
			for f.hdrLen < need && len(p) > 0 {
				f.hdr[f.hdrLen] = p[0]
				f.hdrLen++
				p = p[1:]
				if f.hdrLen == 2 {
					need = headerSize(f.hdr[1])
				}
			}
			if f.hdrLen < need {
				return nil
			}
			if err := f.begin(out); err != nil {
				return err
			}
			if f.remain == 0 {
				if err := f.end(out); err != nil {
					return err
				}
			}
			continue
		}
		n := int(min(f.remain, uint64(len(p))))
		chunk := p[:n]
		p = p[n:]
		f.remain -= uint64(n)
		if f.pass {
			out.Write(chunk)
		} else {
			start := len(f.msg)
			f.msg = append(f.msg, chunk...)
			if f.holdsRaw() {
				f.raw = append(f.raw, chunk...)
			}
			if f.masked {
				for i := start; i < len(f.msg); i++ {
					f.msg[i] ^= f.key[f.pos%4]
					f.pos++
				}
			}
			if f.msgOp == wsBinary {
				if err := f.sniff(out); err != nil {
					return err
				}
			}
		}
		if f.remain == 0 {
			if err := f.end(out); err != nil {
				return err
			}
		}
	}
	return nil
}

// begin checks a complete header and starts its frame.
func (f *wsFrames) begin(out *bytes.Buffer) error {
	h := f.hdr[:f.hdrLen]
	f.hdrLen = 0
	f.fin = h[0]&0x80 != 0
	f.op = h[0] & 0x0f
	f.masked = h[1]&0x80 != 0
	if h[0]&0x70 != 0 {
		return wsProtocolError("reserved bits set without an extension")
	}
	if f.masked && f.unmaskedOnly {
		return wsProtocolError("masked frame from the server")
	}
	i := 2
	switch n := h[1] & 0x7f; n {
	case 126:
		f.remain = uint64(binary.BigEndian.Uint16(h[2:]))
		i = 4
	case 127:
		f.remain = binary.BigEndian.Uint64(h[2:])
		if f.remain>>63 != 0 {
			return wsProtocolError("frame length out of range")
		}
		i = 10
	default:
		f.remain = uint64(n)
	}
	if f.masked {
		copy(f.key[:], h[i:i+4])
	}
	f.pos = 0
	switch f.op {
	case wsClose, wsPing, wsPong:
		if !f.fin || f.remain > 125 {
			return wsProtocolError("fragmented or long control frame")
		}
		f.pass = true
	case wsText, wsBinary:
		if f.msgOp != 0 {
			return wsProtocolError("new message before the last one ended")
		}
		f.msgOp = f.op
		f.pass = false
		f.checked = 0
	case wsContinuation:
		if f.msgOp == 0 {
			return wsProtocolError("continuation without a message")
		}
		f.pass = f.msgPass
	default:
		return wsProtocolError("reserved opcode")
	}
	// A binary message is judged too big only once it is known to be
	// text (sniff); a large image passes.
	if !f.pass && f.msgOp == wsText && uint64(len(f.msg))+f.remain > uint64(f.maxMessage) {
		return &wsError{wsCloseTooBig, "message too big to inspect"}
	}
	if f.pass {
		out.Write(h)
	} else if f.holdsRaw() {
		f.raw = append(f.raw, h...)
	}
	f.inFrame = true
	return nil
}

// end finishes a frame; a final data frame ends its message.
func (f *wsFrames) end(out *bytes.Buffer) error {
	f.inFrame = false
	if f.op >= wsClose || !f.fin {
		return nil
	}
	op := f.msgOp
	f.msgOp = 0
	if f.msgPass {
		f.msgPass = false
		return nil
	}
	msg, raw := f.msg, f.raw
	f.msg, f.raw = f.msg[:0], f.raw[:0]
	return f.onMessage(op, msg, raw, out)
}

// sniff checks a held binary message's new bytes. At the first byte that
// cannot be UTF-8 the message is not text: its frames so far go out as
// they came and the rest of it passes. Only the first maxMessage+1 bytes
// decide, so the outcome does not depend on how the stream is chunked;
// UTF-8 beyond maxMessage is a text message too big to inspect.
func (f *wsFrames) sniff(out *bytes.Buffer) error {
	upto := min(len(f.msg), f.maxMessage+1)
	for f.checked < upto {
		r, n := utf8.DecodeRune(f.msg[f.checked:upto])
		if r == utf8.RuneError && n <= 1 {
			if upto-f.checked < utf8.UTFMax && !utf8.FullRune(f.msg[f.checked:upto]) && upto < f.maxMessage+1 {
				break // a character cut by the chunk: wait for the rest
			}
			out.Write(f.raw)
			f.msg, f.raw = f.msg[:0], f.raw[:0]
			f.msgPass, f.pass = true, true
			return nil
		}
		f.checked += n
	}
	if len(f.msg) > f.maxMessage {
		return &wsError{wsCloseTooBig, "message too big to inspect"}
	}
	return nil
}

// appendWSFrame appends one final, unmasked frame.
func appendWSFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closeFrame is the close frame for e.
func closeFrame(e *wsError) []byte {
	payload := binary.BigEndian.AppendUint16(nil, e.code)
	payload = append(payload, clip(e.reason, 123)...)
	return appendWSFrame(nil, wsClose, payload)
}

// wsConn is the upstream side of an upgraded WebSocket connection as the
// reverse proxy sees it: reads (the application's frames) come through
// the server-side inspector, writes (the client's frames) through the
// client-side one.
type wsConn struct {
	up     io.ReadWriteCloser
	frames *wsFrames
	out    bytes.Buffer
	buf    []byte
	err    error
	// ended: the gateway closed the connection (its close frame is in
	// out); once that is read the upstream is closed too, so that
	// neither side keeps a connection the gateway has ended.
	ended bool

	client *wsFrames    // the client's frames, on Write
	wout   bytes.Buffer // what goes to the upstream

	mu sync.Mutex
	// refused is the close the client-side inspector asks for; Read
	// sends it to the client once the upstream is closed.
	refused  *wsError
	done     chan struct{} // closed when Read has returned its last byte
	doneOnce sync.Once
}

func (c *wsConn) Read(p []byte) (int, error) {
	for c.out.Len() == 0 && c.err == nil {
		n, err := c.up.Read(c.buf)
		if n > 0 {
			if ferr := c.frames.feed(c.buf[:n], &c.out); ferr != nil {
				var we *wsError
				if !errors.As(ferr, &we) {
					we = &wsError{wsCloseInternal, "inspection failed"}
				}
				c.out.Write(closeFrame(we))
				c.err, c.ended = io.EOF, true
				break
			}
		}
		if err != nil {
			c.err = err
			c.mu.Lock()
			we := c.refused
			c.refused = nil
			c.mu.Unlock()
			if we != nil {
				// The client's message was refused and the upstream
				// closed: tell the client why, unless a frame to it is
				// half sent (then the connection just ends).
				if !c.frames.inFrame || !c.frames.pass {
					c.out.Write(closeFrame(we))
				}
				c.err = io.EOF
			}
		}
	}
	if c.out.Len() > 0 {
		return c.out.Read(p)
	}
	if c.ended {
		c.ended = false
		c.up.Close()
	}
	c.doneOnce.Do(func() { close(c.done) })
	return 0, c.err
}

// Write passes the client's frames through the client-side inspector. A
// refused message closes the upstream (which never sees it) and, through
// Read, the client with 1008; Write waits for that close frame to go out
// before it fails, since the proxy drops both connections on its error.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wout.Reset()
	if err := c.client.feed(p, &c.wout); err != nil {
		var we *wsError
		if !errors.As(err, &we) {
			we = &wsError{wsCloseInternal, "inspection failed"}
		}
		c.mu.Lock()
		c.refused = we
		c.mu.Unlock()
		c.up.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
		}
		return 0, err
	}
	if c.wout.Len() > 0 {
		if _, err := c.up.Write(c.wout.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *wsConn) Close() error { return c.up.Close() }

// CloseWrite lets the proxy pass the client's half-close on. An
// upstream connection that cannot half-close reports an error, so the
// proxy ends both directions, as it does for a connection without
// CloseWrite.
func (c *wsConn) CloseWrite() error {
	if cw, ok := c.up.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}

var errNoHalfClose = errors.New("httpgw: upstream connection cannot half-close")

func isWebSocket(h http.Header) bool {
	return strings.EqualFold(h.Get("Upgrade"), "websocket")
}

// inspectWebSocket wraps an accepted WebSocket upgrade's connection.
func (g *Gateway) inspectWebSocket(ctx context.Context, resp *http.Response, x *exchange) error {
	up, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return errors.New("httpgw: websocket upgrade without a connection")
	}
	c := &wsConn{up: up, buf: make([]byte, 32<<10), done: make(chan struct{})}
	max := int(min(g.cfg.MaxBufferBytes, 1<<30))
	c.frames = &wsFrames{
		maxMessage:   max,
		unmaskedOnly: true,
		onMessage: func(op byte, msg, raw []byte, out *bytes.Buffer) error {
			if op == wsBinary && !utf8.Valid(msg) {
				out.Write(raw) // not text after all (cut in its last character)
				return nil
			}
			masked, err := g.wsMessage(ctx, x, msg)
			if err != nil {
				return err
			}
			out.Write(appendWSFrame(nil, op, masked))
			return nil
		},
	}
	c.client = &wsFrames{
		maxMessage: max,
		keepRaw:    true,
		onMessage: func(op byte, msg, raw []byte, out *bytes.Buffer) error {
			if op == wsText || utf8.Valid(msg) {
				if err := g.wsClientMessage(ctx, x, msg); err != nil {
					return err
				}
			}
			out.Write(raw) // as the client sent it, masking keys and all
			return nil
		},
	}
	resp.Body = c
	return nil
}

// wsClientMessage decides a message from the client with the subjects it
// names, like a request's parameters before forwarding (a search box over
// a WebSocket): a refusal is recorded and closes the connection (1008)
// before the application sees the message; an allowed message naming
// subjects is recorded before it is forwarded, as a request naming them
// would be.
func (g *Gateway) wsClientMessage(ctx context.Context, x *exchange, msg []byte) error {
	in := g.pool.Get().(*inspection)
	defer g.pool.Put(in)
	in.reset(nil) // the catalogue's paths describe responses
	if _, ok := prepareJSON(msg, in); !ok {
		in.reset(nil)
		prepareText(msg, in)
	}
	if len(in.subjects) == 0 {
		return nil // names nobody: the application's answer is judged
	}
	m := &exchange{
		route: x.route, ep: x.ep, bearer: x.bearer, start: g.deps.Now(), actor: x.actor, source: x.source,
		purpose: x.purpose, action: x.action, object: x.object, outcome: custos.OutcomeSuccess,
		status:      http.StatusSwitchingProtocols,
		reqSubjects: slices.Clone(in.subjects), reqHashes: slices.Clone(in.hashes),
		types: slices.Clone(in.types), cats: slices.Clone(in.cats), records: int64(len(in.subjects)),
	}
	m.decision = g.decide(ctx, m, false)
	if refused(m.decision.Effect) {
		m.outcome = custos.OutcomeFailure
	}
	m.bytes = int64(len(msg))
	if err := g.record(ctx, m); err != nil {
		g.log.Error("httpgw: websocket client message event not durable; connection closed", "err", err, "system", x.route.System)
		return &wsError{wsCloseInternal, "access not recorded"}
	}
	if refused(m.decision.Effect) {
		return &wsError{wsClosePolicy, "Custos: refused by policy (" + strings.Join(m.decision.Rules, ", ") + ")"}
	}
	return nil
}

// wsMessage judges one text message of connection x: it returns the
// message to send, masked, once its event (if it reveals personal data)
// is durable, or the error that closes the connection.
func (g *Gateway) wsMessage(ctx context.Context, x *exchange, msg []byte) ([]byte, error) {
	in := g.pool.Get().(*inspection)
	defer g.pool.Put(in)
	in.reset(g.fieldsOf(x))
	apply, ok := prepareJSON(msg, in)
	if !ok {
		in.reset(in.fields)
		apply = prepareText(msg, in)
	}
	if len(in.types) == 0 && len(in.subjects) == 0 {
		return msg, nil // nothing personal: no event of its own
	}
	// One event per message that reveals personal data, like one
	// response: the upgrade's actor, session, route and purpose.
	m := &exchange{
		route: x.route, ep: x.ep, bearer: x.bearer, start: g.deps.Now(), actor: x.actor, source: x.source,
		purpose: x.purpose, action: custos.ActionRead, object: x.object, outcome: custos.OutcomeSuccess,
		status: http.StatusSwitchingProtocols,
	}
	g.collect(m, in)
	m.decision = g.decide(ctx, m, true)
	if refused(m.decision.Effect) {
		m.outcome = custos.OutcomeFailure
		if err := g.record(ctx, m); err != nil {
			return nil, &wsError{wsCloseInternal, "access not recorded"}
		}
		return nil, &wsError{wsClosePolicy, "Custos: refused by policy (" + strings.Join(m.decision.Rules, ", ") + ")"}
	}
	out := msg
	if vm := (valueMasker{m: g.deps.Masker, d: m.decision}); vm.active() {
		var err error
		if out, err = apply(vm); err != nil {
			return nil, &wsError{wsCloseInternal, "masking failed"}
		}
	}
	m.bytes = int64(len(out))
	if err := g.record(ctx, m); err != nil {
		g.log.Error("httpgw: websocket message event not durable; connection closed", "err", err, "system", x.route.System)
		return nil, &wsError{wsCloseInternal, "access not recorded"}
	}
	return out, nil
}
