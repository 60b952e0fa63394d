package httpgw

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/custos-dev/custos"
)

// WebSocket inspection (RFC 6455). After the upgrade is decided and
// recorded, the upstream's connection is wrapped: what the application
// sends to the client goes through wsFrames, which passes binary and
// control frames through as they come and holds each text message until
// it is whole (fragments joined, control frames between them forwarded at
// once), then inspects it with the JSON or text rules, decides it with
// the subjects it reveals (quotas count them), records one event for it
// if it reveals personal data, and sends it masked as one frame. What the
// client sends goes to the upstream unchanged. The gateway strips
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
	onText       func(msg []byte, out *bytes.Buffer) error

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
}

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
		if f.pass {
			out.Write(chunk)
		} else {
			start := len(f.msg)
			f.msg = append(f.msg, chunk...)
			if f.masked {
				for i := start; i < len(f.msg); i++ {
					f.msg[i] ^= f.key[f.pos%4]
					f.pos++
				}
			}
		}
		f.remain -= uint64(n)
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
		f.pass = f.op == wsBinary
	case wsContinuation:
		if f.msgOp == 0 {
			return wsProtocolError("continuation without a message")
		}
		f.pass = f.msgOp == wsBinary
	default:
		return wsProtocolError("reserved opcode")
	}
	if !f.pass && uint64(len(f.msg))+f.remain > uint64(f.maxMessage) {
		return &wsError{wsCloseTooBig, "message too big to inspect"}
	}
	if f.pass {
		out.Write(h)
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
	if op != wsText {
		return nil
	}
	msg := f.msg
	f.msg = f.msg[:0]
	return f.onText(msg, out)
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
// reverse proxy sees it: reads come through the inspector, writes (the
// client's frames) go to the upstream unchanged.
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
		}
	}
	if c.out.Len() > 0 {
		return c.out.Read(p)
	}
	if c.ended {
		c.ended = false
		c.up.Close()
	}
	return 0, c.err
}

func (c *wsConn) Write(p []byte) (int, error) { return c.up.Write(p) }
func (c *wsConn) Close() error                { return c.up.Close() }

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
	c := &wsConn{up: up, buf: make([]byte, 32<<10)}
	c.frames = &wsFrames{
		maxMessage:   int(min(g.cfg.MaxBufferBytes, 1<<30)),
		unmaskedOnly: true,
		onText: func(msg []byte, out *bytes.Buffer) error {
			masked, err := g.wsMessage(ctx, x, msg)
			if err != nil {
				return err
			}
			out.Write(appendWSFrame(nil, wsText, masked))
			return nil
		},
	}
	resp.Body = c
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
