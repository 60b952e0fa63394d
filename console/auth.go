package console

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/custos-dev/custos/store/sqlite"
)

// Role is what a console user does. Roles are exclusive: one person, one
// role, so that nobody both investigates and approves, or investigates and
// audits the investigations.
type Role string

const (
	RoleAdmin        Role = "admin"        // manages users; reads policy and the console audit
	RoleInvestigator Role = "investigator" // triages alerts, reads timelines, searches subjects
	RoleApprover     Role = "approver"     // approves or denies requests
	RoleAuditor      Role = "auditor"      // reads alerts, timelines, policy and the audit (who searched what)
)

// Roles lists the roles.
var Roles = []Role{RoleAdmin, RoleInvestigator, RoleApprover, RoleAuditor}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (admin, investigator, approver or auditor)", s)
}

// DefaultIterations is the PBKDF2-SHA256 work factor for new passwords
// (OWASP's 2023 recommendation).
const DefaultIterations = 600_000

// HashPassword derives a PBKDF2-SHA256 hash, stored as
// "pbkdf2-sha256$iterations$salt$hash" (base64).
func HashPassword(password string, iterations int) (string, error) {
	if iterations < 1 {
		iterations = DefaultIterations
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return "", fmt.Errorf("console: hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a HashPassword hash.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 2_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// NewUser is what CreateUser returns once: the TOTP secret and its
// otpauth:// URL for an authenticator app, and the password when one was
// generated.
type NewUser struct {
	Name       string
	Role       Role
	Password   string // set only when CreateUser generated it
	TOTPSecret string
	TOTPURL    string
}

// CreateUser adds a console user with a password (generated when empty)
// and a new TOTP secret. iterations 0 means DefaultIterations.
func CreateUser(ctx context.Context, st *sqlite.Store, name string, role Role, password string, iterations int) (NewUser, error) {
	if err := checkUserName(name); err != nil {
		return NewUser{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return NewUser{}, fmt.Errorf("console: %w", err)
	}
	nu := NewUser{Name: name, Role: role}
	if password == "" {
		b := make([]byte, 15)
		rand.Read(b)
		password = base64.RawURLEncoding.EncodeToString(b)
		nu.Password = password
	}
	if len(password) < 10 {
		return NewUser{}, fmt.Errorf("console: password must be at least 10 characters")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Custos", AccountName: name})
	if err != nil {
		return NewUser{}, fmt.Errorf("console: totp: %w", err)
	}
	hash, err := HashPassword(password, iterations)
	if err != nil {
		return NewUser{}, err
	}
	if err := st.CreateConsoleUser(ctx, sqlite.ConsoleUser{Name: name, Role: string(role), Password: hash, TOTPSecret: key.Secret()}); err != nil {
		return NewUser{}, fmt.Errorf("console: %w", err)
	}
	nu.TOTPSecret, nu.TOTPURL = key.Secret(), key.URL()
	return nu, nil
}

// checkUserName refuses names that could be confused with another kind of
// user: ':' is kept for single-sign-on users ("oidc:alice").
func checkUserName(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n/:") || len(name) > 64 {
		return fmt.Errorf("console: user name must be 1-64 characters without spaces, '/' or ':'")
	}
	return nil
}

// SetPassword gives a local user a new password (at least 10 characters)
// and ends all their sessions. iterations 0 means DefaultIterations.
func SetPassword(ctx context.Context, st *sqlite.Store, name, password string, iterations int) error {
	if len(password) < 10 {
		return fmt.Errorf("console: password must be at least 10 characters")
	}
	hash, err := HashPassword(password, iterations)
	if err != nil {
		return err
	}
	if err := st.SetConsoleUserPassword(ctx, name, hash); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// SetRole gives a local user another role and ends all their sessions.
func SetRole(ctx context.Context, st *sqlite.Store, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if err := st.SetConsoleUserRole(ctx, name, string(role)); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// totpOpts are the parameters every authenticator app supports.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// session is a signed-in user. Sessions live in the store
// (console_sessions), keyed by the SHA-256 of the cookie: a restart keeps
// people signed in, and the table alone signs nobody in.
type session struct {
	user     string
	role     Role
	source   string // sourceLocal or sourceOIDC
	csrf     string // derived from the cookie, never stored
	created  time.Time
	lastSeen time.Time
	expires  time.Time
}

// How a session's user proved who they are.
const (
	sourceLocal = "local" // password and TOTP
	sourceOIDC  = "oidc"  // the configured OpenID Connect provider
)

// sessions keeps console sessions in the store.
type sessions struct {
	st   *sqlite.Store
	ttl  time.Duration
	idle time.Duration
	// touchEvery is how stale last_seen may get before a request writes
	// it again: writing it on every page would put a durable write (an
	// fsync) in front of every read-only page. Idle expiry is therefore
	// exact to within touchEvery.
	touchEvery time.Duration
}

func newSessions(st *sqlite.Store, ttl, idle time.Duration) *sessions {
	return &sessions{st: st, ttl: ttl, idle: idle, touchEvery: min(time.Minute, idle/10)}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenKey(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// csrfFor derives a session's CSRF token from its cookie value, so that it
// needs no storage and still differs from the cookie (a page may show it;
// the cookie stays HttpOnly).
func csrfFor(tok string) string {
	h := sha256.Sum256([]byte("custos console csrf\x00" + tok))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// create starts a session and returns its cookie value.
func (s *sessions) create(ctx context.Context, user string, role Role, source string, now time.Time) (string, session, error) {
	tok := randomToken()
	ss := session{user: user, role: role, source: source, csrf: csrfFor(tok), created: now, lastSeen: now, expires: now.Add(s.ttl)}
	err := s.st.CreateConsoleSession(ctx, sqlite.ConsoleSession{
		TokenHash: tokenKey(tok), User: user, Role: string(role), Source: source,
		Created: now, LastSeen: now, Expires: ss.expires,
	}, now.Add(-s.idle))
	if err != nil {
		return "", session{}, fmt.Errorf("console: %w", err)
	}
	return tok, ss, nil
}

// get returns the live session for a cookie value (ok false when there is
// none or it expired) and marks it used.
func (s *sessions) get(ctx context.Context, tok string, now time.Time) (session, bool, error) {
	if tok == "" {
		return session{}, false, nil
	}
	k := tokenKey(tok)
	row, err := s.st.ConsoleSession(ctx, k)
	if errors.Is(err, sqlite.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, fmt.Errorf("console: %w", err)
	}
	ss := session{user: row.User, role: Role(row.Role), source: row.Source, csrf: csrfFor(tok),
		created: row.Created, lastSeen: row.LastSeen, expires: row.Expires}
	if !now.Before(ss.expires) || now.Sub(ss.lastSeen) > s.idle {
		if err := s.st.DeleteConsoleSession(ctx, k); err != nil {
			return session{}, false, fmt.Errorf("console: %w", err)
		}
		return session{}, false, nil
	}
	if now.Sub(ss.lastSeen) >= s.touchEvery {
		if err := s.st.TouchConsoleSession(ctx, k, now); err != nil {
			return session{}, false, fmt.Errorf("console: %w", err)
		}
		ss.lastSeen = now
	}
	return ss, true, nil
}

// delete ends the session of a cookie value.
func (s *sessions) delete(ctx context.Context, tok string) error {
	if tok == "" {
		return nil
	}
	if err := s.st.DeleteConsoleSession(ctx, tokenKey(tok)); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// limiter counts failed logins per key (account, source IP) in a sliding
// window and refuses further attempts past the limit.
type limiter struct {
	mu     sync.Mutex
	window time.Duration
	fails  map[string][]time.Time
}

func newLimiter(window time.Duration) *limiter {
	return &limiter{window: window, fails: map[string][]time.Time{}}
}

func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = ts
	}
	return ts
}

// allowed reports whether key has fewer than max recent failures.
func (l *limiter) allowed(key string, max int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) < max
}

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[key] = append(l.recent(key, now), now)
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// Login limits: failures per account and per source address in the window.
const (
	maxFailsPerAccount = 5
	maxFailsPerIP      = 20
	failWindow         = 15 * time.Minute
)

// usedCodes remembers each user's last accepted TOTP code so that a code
// seen over someone's shoulder cannot be replayed within its validity.
type usedCodes struct {
	mu sync.Mutex
	m  map[string]usedCode
}

type usedCode struct {
	code string
	at   time.Time
}

// use records code for user; false if the same code was already used in
// the last two minutes.
func (u *usedCodes) use(user, code string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, ok := u.m[user]; ok && last.code == code && now.Sub(last.at) < 2*time.Minute {
		return false
	}
	u.m[user] = usedCode{code, now}
	return true
}

var errLogin = errors.New("login failed")

// authenticate checks a user's password and TOTP code. Every failure is
// the same error, so a caller cannot tell which factor was wrong.
func (c *Console) authenticate(ctx context.Context, name, password, code string, now time.Time) (sqlite.ConsoleUser, error) {
	u, err := c.store.ConsoleUser(ctx, name)
	if err != nil {
		if errors.Is(err, sqlite.ErrNotFound) {
			// Spend the same time as a real check.
			c.dummyOnce.Do(func() { c.dummyHash, _ = HashPassword("not a password", DefaultIterations) })
			CheckPassword(c.dummyHash, password)
			return sqlite.ConsoleUser{}, errLogin
		}
		return sqlite.ConsoleUser{}, err
	}
	if !CheckPassword(u.Password, password) || u.Disabled {
		return sqlite.ConsoleUser{}, errLogin
	}
	ok, err := totp.ValidateCustom(strings.TrimSpace(code), u.TOTPSecret, now, totpOpts)
	if err != nil || !ok || !c.codes.use(u.Name, strings.TrimSpace(code), now) {
		return sqlite.ConsoleUser{}, errLogin
	}
	return u, nil
}
