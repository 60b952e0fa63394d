package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/custos-dev/custos"
)

// startupTimeout bounds the whole startup and authentication exchange.
const startupTimeout = 30 * time.Second

// maxMessageLen bounds a client message body (1 GiB is PostgreSQL's own
// limit; the gateway keeps memory bounded per connection).
const maxMessageLen = 64 << 20

// errHandled means the connection was dealt with during startup (a cancel
// request, a refused login) and needs nothing more.
var errHandled = errors.New("handled")

// started is a client connection after a successful login.
type started struct {
	client  net.Conn
	be      *pgproto3.Backend
	in      *errReader
	params  map[string]string
	user    User
	tls     bool
	purpose custos.Purpose
}

// startup negotiates TLS, reads the StartupMessage and authenticates the
// employee against the gateway's directory.
func (s *Server) startup(ctx context.Context, c net.Conn) (*started, error) {
	c.SetDeadline(time.Now().Add(startupTimeout))
	in := &errReader{r: c}
	be := pgproto3.NewBackend(in, c)
	be.SetMaxBodyLen(maxMessageLen)
	isTLS := false
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			fatal(be, "08P01", "invalid startup packet")
			return nil, fmt.Errorf("startup: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.TLS == nil || isTLS {
				if _, err := c.Write([]byte{'N'}); err != nil {
					return nil, err
				}
				continue
			}
			if _, err := c.Write([]byte{'S'}); err != nil {
				return nil, err
			}
			tc := tls.Server(c, s.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				return nil, fmt.Errorf("startup: tls: %w", err)
			}
			c = tc
			isTLS = true
			in = &errReader{r: c}
			be = pgproto3.NewBackend(in, c)
			be.SetMaxBodyLen(maxMessageLen)
		case *pgproto3.GSSEncRequest:
			if _, err := c.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case *pgproto3.CancelRequest:
			s.cancels.cancel(ctx, s, m)
			return nil, errHandled
		case *pgproto3.StartupMessage:
			if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
				// A 3.2 client is told to speak 3.0, which both legs use.
				be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
			}
			if s.RequireTLS && !isTLS {
				fatal(be, "28000", "the Custos gateway requires TLS (sslmode=require)")
				return nil, errHandled
			}
			st, err := s.authenticate(be, c, m.Parameters, isTLS)
			if err != nil {
				return nil, err
			}
			st.in = in
			c.SetDeadline(time.Time{})
			return st, nil
		default:
			fatal(be, "08P01", "unsupported startup message")
			return nil, errHandled
		}
	}
}

// authenticate runs SCRAM-SHA-256 (or, over TLS when the client asks for
// nothing else, a cleartext password) against the user directory.
func (s *Server) authenticate(be *pgproto3.Backend, c net.Conn, params map[string]string, isTLS bool) (*started, error) {
	name := params["user"]
	if name == "" {
		fatal(be, "28000", "no user name given")
		return nil, errHandled
	}
	u, known := s.Users[name]
	var v *Verifier
	if known {
		v = &u.Verifier
	}
	err := scramExchange(be, v)
	if err != nil {
		if errors.Is(err, errAuth) {
			s.Log.Info("pgwire: login failed", "user", name, "remote", remoteIP(c))
			fatal(be, "28P01", fmt.Sprintf("password authentication failed for user %q", name))
			return nil, errHandled
		}
		fatal(be, "08P01", "authentication exchange failed")
		return nil, err
	}
	purpose, opts := custosOptions(params["options"])
	if opts == "" {
		delete(params, "options")
	} else {
		params["options"] = opts
	}
	return &started{client: c, be: be, params: params, user: u, tls: isTLS, purpose: purpose}, nil
}

// custosOptions takes the custos.purpose and custos.ticket settings out of
// a startup options string ("-c custos.purpose=support -c x=y") and returns
// the rest, which goes upstream.
func custosOptions(options string) (custos.Purpose, string) {
	var p custos.Purpose
	fields := strings.Fields(options)
	var rest []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		var kv string
		switch {
		case f == "-c" && i+1 < len(fields):
			kv = fields[i+1]
			i++
		case strings.HasPrefix(f, "-c"):
			kv = f[2:]
		case strings.HasPrefix(f, "--"):
			kv = f[2:]
		default:
			rest = append(rest, f)
			continue
		}
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "custos.purpose":
			p.Name = v
		case "custos.ticket":
			p.Ticket = v
		default:
			rest = append(rest, "-c", kv)
		}
	}
	return p, strings.Join(rest, " ")
}

// fatal sends a FATAL ErrorResponse; the caller closes the connection.
func fatal(be *pgproto3.Backend, code, msg string) {
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	be.Flush()
}

// refuse answers a connection that has not sent its startup yet.
func refuse(c net.Conn, code, msg string) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	be := pgproto3.NewBackend(c, c)
	if _, err := be.ReceiveStartupMessage(); err == nil {
		fatal(be, code, msg)
	}
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}
