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
	if name == "" || strings.ContainsAny(name, " \t\r\n/") || len(name) > 64 {
		return NewUser{}, fmt.Errorf("console: user name must be 1-64 characters without spaces or '/'")
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

// totpOpts are the parameters every authenticator app supports.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// session is a logged-in user. Sessions live in memory: a restart logs
// everyone out.
type session struct {
	user     string
	role     Role
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions maps the SHA-256 of each session cookie to its session, so the
// map itself holds no usable cookie.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	ttl  time.Duration
	idle time.Duration
}

func newSessions(ttl, idle time.Duration) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, idle: idle}
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

// create starts a session and returns its cookie value.
func (s *sessions) create(user string, role Role, now time.Time) (string, *session) {
	tok := randomToken()
	ss := &session{user: user, role: role, csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m { // sweep expired sessions
		if s.expired(v, now) {
			delete(s.m, k)
		}
	}
	s.m[tokenKey(tok)] = ss
	return tok, ss
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.created) > s.ttl || now.Sub(ss.lastSeen) > s.idle
}

// get returns the live session for a cookie value and marks it used.
func (s *sessions) get(tok string, now time.Time) (session, bool) {
	if tok == "" {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tokenKey(tok)
	ss, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	if s.expired(ss, now) {
		delete(s.m, k)
		return session{}, false
	}
	ss.lastSeen = now
	return *ss, true
}

func (s *sessions) delete(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, tokenKey(tok))
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
