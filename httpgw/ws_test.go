package httpgw

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/custos-dev/custos"
)

func wsURL(h *harness, path string) string {
	return "ws" + strings.TrimPrefix(h.srv.URL, "http") + path
}

// TestWebSocketMessagesMasked: text messages (JSON and plain) from the
// application are masked and recorded one event each; binary and messages
// without personal data pass unchanged; the client's offer of
// permessage-deflate never reaches the application.
func TestWebSocketMessagesMasked(t *testing.T) {
	offered := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		offered <- r.Header.Get("Sec-WebSocket-Extensions")
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover, CompressionThreshold: 1})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		doc, _ := json.Marshal(map[string]any{"items": []any{passenger(1), passenger(2)}})
		c.Write(ctx, websocket.MessageText, doc)
		c.Write(ctx, websocket.MessageText, []byte("请回电 "+mobile(9)+" 谢谢"))
		c.Write(ctx, websocket.MessageBinary, []byte("bin "+mobile(9)))
		c.Write(ctx, websocket.MessageBinary, []byte("\x89PNG\r\n "+mobile(8)))
		c.Write(ctx, websocket.MessageText, []byte(`{"status":"ok"}`))
		c.Read(ctx) // until the client closes
	})
	h := newHarness(t, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(h, "/ws"), &websocket.DialOptions{
		CompressionMode: websocket.CompressionContextTakeover,
		HTTPHeader:      http.Header{"X-Remote-User": {"ws-ana"}, "X-Remote-Roles": {"analyst"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ext := <-offered; ext != "" {
		t.Errorf("the application was offered %q", ext)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("go")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 5 {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", typ, msg))
	}
	c.Close(websocket.StatusNormalClosure, "")
	doc := strings.TrimPrefix(got[0], "1:")
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil || len(v["items"].([]any)) != 2 {
		t.Fatalf("JSON message: %v: %s", err, doc)
	}
	mustContainNone(t, doc, cnID(1), cnID(2), mobile(1), mobile(2), mobile(3), "张伟明")
	if got[1] != "1:请回电 138****0009 谢谢" {
		t.Errorf("text message %q", got[1])
	}
	if got[2] != "2:bin 138****0009" {
		t.Errorf("UTF-8 binary message %q, want it masked and still binary", got[2])
	}
	if got[3] != "2:\x89PNG\r\n "+mobile(8) {
		t.Errorf("binary message %q (binary that is not UTF-8 passes uninspected)", got[3])
	}
	if got[4] != `1:{"status":"ok"}` {
		t.Errorf("message without personal data %q", got[4])
	}
	evs := h.events("ws-ana")
	if len(evs) != 4 {
		t.Fatalf("%d events, want the upgrade and three messages", len(evs))
	}
	// Two ID numbers and three mobiles (in fields and notes).
	if ev := evs[1]; ev.Records != 5 || ev.Decision != custos.DecisionMask || !slices.Contains(ev.DataTypes, "cn_mobile") {
		t.Errorf("JSON message event: records %d decision %s types %v", ev.Records, ev.Decision, ev.DataTypes)
	}
	want, _ := h.index.Hash("cn_mobile", mobile(9))
	if ev := evs[2]; len(ev.Subjects) != 1 || ev.Subjects[0].Hash != want {
		t.Errorf("text message event subjects %+v", ev.Subjects)
	}
}

// rawUpstream is an application that writes the given frames itself after
// the handshake, to test framing the libraries never produce.
func rawUpstream(t *testing.T, frames ...[]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		for _, f := range frames {
			brw.Write(f)
			brw.Flush() // one write per frame: the gateway must join them
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		io.Copy(io.Discard, conn)
	})
}

func rawFrame(b0 byte, payload []byte, key []byte) []byte {
	out := []byte{b0}
	mbit := byte(0)
	if key != nil {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	case n <= 0xffff:
		out = append(out, mbit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if key == nil {
		return append(out, payload...)
	}
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// rawClient upgrades through the gateway with a plain connection and
// returns a reader of the frames that come back.
func rawClient(t *testing.T, h *harness, actor, roles string) (*bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate\r\nX-Remote-User: %s\r\nX-Remote-Roles: %s\r\n\r\n", actor, roles)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("upgrade: %s %v", resp.Status, resp.Header)
	}
	return br, conn
}

type gotFrame struct {
	b0      byte
	payload string
}

// readFrames reads frames until the connection ends (a close frame ends
// the list too).
func readFrames(t *testing.T, br *bufio.Reader) []gotFrame {
	t.Helper()
	var out []gotFrame
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return out
		}
		if h[1]&0x80 != 0 {
			t.Fatalf("masked frame from the gateway")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(br, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			io.ReadFull(br, b[:])
			n = binary.BigEndian.Uint64(b[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatalf("short frame: %v", err)
		}
		out = append(out, gotFrame{h[0], string(p)})
		if h[0]&0x0f == wsClose {
			return out
		}
	}
}

// TestWebSocketFraming: fragments of a text message are joined (an
// identifier split across them is found) and sent as one frame; a ping
// between the fragments goes out at once; binary fragments that are
// UTF-8 are joined and inspected like text (one binary frame out);
// binary that is not UTF-8, long frames and the close frame pass byte for
// byte.
func TestWebSocketFraming(t *testing.T) {
	long := strings.Repeat("x", 70000) + " " + mobile(4)
	h := newHarness(t, rawUpstream(t,
		rawFrame(0x00|wsText, []byte("call 1381234"), nil),
		rawFrame(0x80|wsPing, []byte("p"), nil),
		rawFrame(0x00|wsContinuation, []byte("00"), nil),
		rawFrame(0x80|wsContinuation, []byte("05 now"), nil),
		rawFrame(0x00|wsBinary, []byte("b1"), nil),
		rawFrame(0x80|wsContinuation, []byte("b2"), nil),
		rawFrame(0x00|wsBinary, []byte("ok \xe4"), nil), // a character cut by the frame: still text
		rawFrame(0x80|wsContinuation, []byte("\xbd\xa0 1381234"+"0006"), nil),
		rawFrame(0x00|wsBinary, []byte("img 13812340007 \xff\xd8"), nil), // JPEG bytes: not text
		rawFrame(0x80|wsPing, []byte("q"), nil),
		rawFrame(0x80|wsContinuation, []byte("more"), nil),
		rawFrame(0x80|wsText, []byte(long), nil),
		rawFrame(0x80|wsText, nil, nil),
		rawFrame(0x80|wsClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}, nil),
	))
	br, _ := rawClient(t, h, "ws-frames", "analyst")
	got := readFrames(t, br)
	want := []gotFrame{
		{0x80 | wsPing, "p"},
		{0x80 | wsText, "call 138****0005 now"},
		{0x80 | wsBinary, "b1b2"},
		{0x80 | wsBinary, "ok 你 138****0006"},
		{0x00 | wsBinary, "img 13812340007 \xff\xd8"},
		{0x80 | wsPing, "q"},
		{0x80 | wsContinuation, "more"},
		{0x80 | wsText, strings.Repeat("x", 70000) + " 138****0004"},
		{0x80 | wsText, ""},
		{0x80 | wsClose, "\x03\xe8bye"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			g, w := got[i].payload, want[i].payload
			t.Errorf("frame %d: %#x %q…, want %#x %q…", i, got[i].b0, g[:min(len(g), 40)], want[i].b0, w[:min(len(w), 40)])
		}
	}
	if evs := h.events("ws-frames"); len(evs) != 4 {
		t.Errorf("%d events, want the upgrade and three messages", len(evs))
	}
}

// TestWebSocketRefusals: the gateway ends the connection with a close
// frame for frames RFC 6455 forbids, a message the policy refuses (a quota
// of 3 subjects), and a message over max_buffer_bytes; none of the refused
// message reaches the client.
func TestWebSocketRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames [][]byte
		code   uint16
		before int // frames that reach the client before the close
	}{
		{"reserved bit", [][]byte{rawFrame(0x80|0x40|wsText, []byte("x"), nil)}, wsCloseProtocol, 0},
		{"masked server frame", [][]byte{rawFrame(0x80|wsText, []byte("x"), []byte{1, 2, 3, 4})}, wsCloseProtocol, 0},
		{"continuation without message", [][]byte{rawFrame(0x80|wsContinuation, []byte("x"), nil)}, wsCloseProtocol, 0},
		{"fragmented ping", [][]byte{rawFrame(wsPing, []byte("x"), nil)}, wsCloseProtocol, 0},
		{"reserved opcode", [][]byte{rawFrame(0x80|0x3, []byte("x"), nil)}, wsCloseProtocol, 0},
		{"text inside text", [][]byte{rawFrame(wsText, []byte("a"), nil), rawFrame(0x80|wsText, []byte("b"), nil)}, wsCloseProtocol, 0},
		{"over quota", [][]byte{
			rawFrame(0x80|wsText, []byte(mobile(1)+" "+mobile(2)), nil),
			rawFrame(0x80|wsText, []byte(mobile(3)+" "+mobile(4)), nil),
		}, wsClosePolicy, 1},
		{"too big", [][]byte{rawFrame(0x80|wsText, bytes.Repeat([]byte("y"), 2000), nil)}, wsCloseTooBig, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rawUpstream(t, tc.frames...), func(c *Config, d *Deps) { c.MaxBufferBytes = 1024 })
			actor := "ws-" + strings.ReplaceAll(tc.name, " ", "-")
			br, _ := rawClient(t, h, actor, "streamer")
			got := readFrames(t, br)
			if len(got) != tc.before+1 {
				t.Fatalf("frames %q", got)
			}
			last := got[len(got)-1]
			if last.b0 != 0x80|wsClose || len(last.payload) < 2 || binary.BigEndian.Uint16([]byte(last.payload)) != tc.code {
				t.Fatalf("last frame %#x %q, want close %d", last.b0, last.payload, tc.code)
			}
			if tc.code == wsClosePolicy {
				mustContainNone(t, fmt.Sprint(got), mobile(3), mobile(4))
				ev := h.lastEvent(actor)
				if ev.Decision != custos.DecisionDeny || !slices.Contains(ev.Rules, "quota:streamer-subjects") {
					t.Errorf("event %s %v", ev.Decision, ev.Rules)
				}
			}
		})
	}
}

// TestWebSocketExtensionRefused: an application that answers with an
// extension the gateway did not offer is refused: its frames could be
// compressed.
func TestWebSocketExtensionRefused(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"+
			"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
		brw.Flush()
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		io.Copy(io.Discard, conn)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL(h, "/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"X-Remote-User": {"ws-ext"}, "X-Remote-Roles": {"analyst"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("upgrade with an extension: %v", err)
	}
	if ev := h.lastEvent("ws-ext"); !slices.Contains(ev.Rules, "uninspectable") {
		t.Errorf("rules %v", ev.Rules)
	}
}

// FuzzWSFrames: the frame parser never panics; fed in any chunking it
// produces the same output and errors; what it outputs parses again to
// the same text messages.
func FuzzWSFrames(f *testing.F) {
	f.Add(slices.Concat(rawFrame(wsText, []byte("call 1381234"), nil), rawFrame(0x80|wsPing, []byte("p"), nil),
		rawFrame(0x80|wsContinuation, []byte("5678"), nil)), uint8(3), false)
	f.Add(slices.Concat(rawFrame(0x80|wsText, bytes.Repeat([]byte("z"), 300), []byte{9, 8, 7, 6}), rawFrame(0x80|wsClose, []byte{3, 232}, nil)), uint8(1), true)
	f.Add(rawFrame(0x80|wsBinary, bytes.Repeat([]byte{0}, 70000), nil), uint8(200), false)
	f.Add(slices.Concat(rawFrame(wsBinary, []byte("ab\xe4\xbd"), []byte{1, 2, 3, 4}), rawFrame(0x80|wsContinuation, []byte("\xa0\x89PNG"), nil)), uint8(2), false)
	f.Add(slices.Concat(rawFrame(wsBinary, []byte("call 1381234"), nil), rawFrame(0x80|wsContinuation, []byte("5678"), nil)), uint8(5), true)
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, uint8(0), false)
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8, unmaskedOnly bool) {
		run := func(src []byte, n int) (out []byte, texts []string, err error) {
			var buf bytes.Buffer
			fr := &wsFrames{maxMessage: 4096, unmaskedOnly: unmaskedOnly, onMessage: func(op byte, msg, raw []byte, o *bytes.Buffer) error {
				texts = append(texts, fmt.Sprint(op, string(msg)))
				o.Write(appendWSFrame(nil, op, msg))
				return nil
			}}
			for len(src) > 0 && err == nil {
				c := src[:min(n, len(src))]
				src = src[len(c):]
				err = fr.feed(c, &buf)
			}
			return buf.Bytes(), texts, err
		}
		whole, texts, err := run(in, len(in)+1)
		parts, texts2, err2 := run(in, int(chunk)+1)
		if (err == nil) != (err2 == nil) || !bytes.Equal(whole, parts) || !slices.Equal(texts, texts2) {
			t.Fatalf("chunking changed the result: %v / %v", err, err2)
		}
		var we *wsError
		if err != nil && !errors.As(err, &we) {
			t.Fatalf("error is not a close: %v", err)
		}
		_, again, err3 := run(whole, len(whole)+1)
		if err3 != nil || !slices.Equal(texts, again) {
			t.Fatalf("output does not parse back: %v\n%q\n%q", err3, texts, again)
		}
	})
}

// TestWebSocketClientMessages: what the client sends is decided like a
// request's parameters. A message naming a passenger the agent has a
// booking with is recorded and reaches the application; one naming a
// stranger (need-to-know: deny) is recorded and closes the connection
// with 1008 before the application sees it. A message naming nobody
// makes no event.
func TestWebSocketClientMessages(t *testing.T) {
	got := make(chan string, 10)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				close(got)
				return
			}
			got <- fmt.Sprintf("%d:%s", typ, msg)
			c.Write(r.Context(), websocket.MessageText, []byte(`{"found":true}`))
		}
	})
	h := newHarness(t, mux)
	h.relate("ws-agent", "cn_id", cnID(5))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(h, "/ws"), &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Remote-User": {"ws-agent"}, "X-Remote-Roles": {"wsagent"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(typ websocket.MessageType, msg string) {
		t.Helper()
		if err := c.Write(ctx, typ, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send(websocket.MessageText, `{"op":"help"}`)
	send(websocket.MessageText, `{"op":"search","idNo":"`+cnID(5)+`"}`)
	send(websocket.MessageBinary, "lookup "+cnID(5))
	for range 3 {
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatalf("answer: %v", err)
		}
	}
	send(websocket.MessageText, "lookup "+cnID(6))
	_, _, err = c.Read(ctx)
	if status := websocket.CloseStatus(err); status != websocket.StatusPolicyViolation {
		t.Fatalf("after a stranger's lookup: %v, want close 1008", err)
	}
	var seen []string
	for m := range got {
		seen = append(seen, m)
	}
	want := []string{`1:{"op":"help"}`, `1:{"op":"search","idNo":"` + cnID(5) + `"}`, "2:lookup " + cnID(5)}
	if !slices.Equal(seen, want) {
		t.Errorf("the application got %q, want %q", seen, want)
	}
	evs := h.events("ws-agent")
	if len(evs) != 4 {
		t.Fatalf("%d events, want the upgrade, two lookups and the refusal", len(evs))
	}
	own, _ := h.index.Hash("cn_id", cnID(5))
	stranger, _ := h.index.Hash("cn_id", cnID(6))
	for i, ev := range evs[1:3] {
		if ev.Decision != custos.DecisionMask || len(ev.Subjects) != 1 || ev.Subjects[0].Hash != own || ev.Records != 1 {
			t.Errorf("lookup %d: %s %+v records %d", i, ev.Decision, ev.Subjects, ev.Records)
		}
	}
	if ev := evs[3]; ev.Decision != custos.DecisionDeny || ev.Outcome != custos.OutcomeFailure ||
		!slices.Contains(ev.Rules, "wsagent-no-relationship") || len(ev.Subjects) != 1 || ev.Subjects[0].Hash != stranger {
		t.Errorf("refusal: %s %s %v %+v", ev.Decision, ev.Outcome, ev.Rules, ev.Subjects)
	}
}
