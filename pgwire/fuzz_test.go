package pgwire

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func FuzzParseVerifier(f *testing.F) {
	v, _ := NewVerifier("pw")
	f.Add(v)
	f.Add("SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB")
	f.Add("SCRAM-SHA-256$x:$:")
	f.Add("md5abc")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVerifier(s)
		if err != nil {
			return
		}
		w, err := ParseVerifier(v.String())
		if err != nil || w.String() != v.String() {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

func FuzzCustosOptions(f *testing.F) {
	f.Add("-c custos.purpose=refund -c custos.ticket=T-1 -c search_path=x")
	f.Add("-ccustos.purpose=a --custos.ticket=b -c")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, rest := custosOptions(s)
		// What is left for the server never carries the custos settings.
		p2, rest2 := custosOptions(rest)
		if p2.Name != "" || p2.Ticket != "" {
			t.Fatalf("custos setting left in %q (from %q; took %+v)", rest, s, p)
		}
		if rest2 != rest {
			t.Fatalf("not idempotent: %q then %q", rest, rest2)
		}
	})
}

// FuzzStartup feeds arbitrary bytes to the startup and authentication
// exchange: it must end (with an error or a refusal), never panic or hang.
func FuzzStartup(f *testing.F) {
	startup := func(params ...string) []byte {
		m := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{}}
		for i := 0; i+1 < len(params); i += 2 {
			m.Parameters[params[i]] = params[i+1]
		}
		b, _ := m.Encode(nil)
		return b
	}
	f.Add(startup("user", "alice", "database", "x"))
	f.Add(append(startup("user", "alice"), 'p', 0, 0, 0, 8, 'a', 'b', 0, 0))
	f.Add(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)) // SSLRequest
	f.Add(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877104)) // GSSENCRequest
	f.Add([]byte{0, 0, 0, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0})
	v, _ := NewVerifier("pw")
	pv, _ := ParseVerifier(v)
	s := &Server{Users: map[string]User{"alice": {Name: "alice", Verifier: pv}}, Log: slog.New(slog.DiscardHandler)}
	s.init()
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		defer client.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			server.SetDeadline(time.Now().Add(2 * time.Second))
			st, err := s.startup(context.Background(), server)
			if err == nil && st != nil {
				st.client.Close()
			}
			server.Close()
		}()
		go io.Copy(io.Discard, client)
		client.SetDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("startup did not end")
		}
	})
}
