package pgwire

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// scramIterations is the PBKDF2 iteration count of new verifiers, as
// PostgreSQL's default.
const scramIterations = 4096

// Verifier is a stored SCRAM-SHA-256 credential in PostgreSQL's format:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. It lets the
// gateway check a password, or run the SCRAM exchange, without knowing the
// password.
type Verifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// NewVerifier derives a verifier for password with a random salt.
func NewVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	v, err := deriveVerifier(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

func deriveVerifier(password string, salt []byte, iterations int) (Verifier, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return Verifier{}, err
	}
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	return Verifier{
		Iterations: iterations,
		Salt:       salt,
		StoredKey:  stored[:],
		ServerKey:  hmacSHA256(salted, []byte("Server Key")),
	}, nil
}

// String encodes v in PostgreSQL's pg_authid format.
func (v Verifier) String() string {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", v.Iterations, b64(v.Salt), b64(v.StoredKey), b64(v.ServerKey))
}

// ParseVerifier reads a verifier written by NewVerifier or by PostgreSQL.
func ParseVerifier(s string) (Verifier, error) {
	rest, ok := strings.CutPrefix(s, "SCRAM-SHA-256$")
	if !ok {
		return Verifier{}, errors.New("verifier: not SCRAM-SHA-256")
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return Verifier{}, errors.New("verifier: missing keys")
	}
	iter, salt, ok1 := strings.Cut(params, ":")
	stored, server, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return Verifier{}, errors.New("verifier: malformed")
	}
	var v Verifier
	var err error
	if v.Iterations, err = strconv.Atoi(iter); err != nil || v.Iterations < 1 {
		return Verifier{}, errors.New("verifier: bad iteration count")
	}
	dec := base64.StdEncoding.DecodeString
	if v.Salt, err = dec(salt); err != nil {
		return Verifier{}, errors.New("verifier: bad salt")
	}
	if v.StoredKey, err = dec(stored); err != nil || len(v.StoredKey) != sha256.Size {
		return Verifier{}, errors.New("verifier: bad stored key")
	}
	if v.ServerKey, err = dec(server); err != nil || len(v.ServerKey) != sha256.Size {
		return Verifier{}, errors.New("verifier: bad server key")
	}
	return v, nil
}

// CheckPassword reports whether password matches v (cleartext password
// authentication, offered only over TLS or when configured).
func (v Verifier) CheckPassword(password string) bool {
	w, err := deriveVerifier(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(w.StoredKey, v.StoredKey) == 1
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// errAuth is what every failed login gets: it does not say whether the
// user exists.
var errAuth = errors.New("password authentication failed")

// scramExchange runs the server side of SCRAM-SHA-256 (RFC 5802/7677, no
// channel binding) on an authenticated-to-be connection. v may be nil for
// an unknown user: the exchange then runs with a fake verifier and fails
// at the end, so that timing and messages do not reveal which users exist.
func scramExchange(be *pgproto3.Backend, v *Verifier) error {
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := be.Receive()
	if err != nil {
		return err
	}
	initial, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || initial.AuthMechanism != "SCRAM-SHA-256" {
		return errors.New("expected SASLInitialResponse for SCRAM-SHA-256")
	}
	// client-first-message: gs2-header "n,," then "n=user,r=nonce".
	cfm := string(initial.Data)
	var bare string
	switch {
	case strings.HasPrefix(cfm, "n,,"):
		bare = cfm[3:]
	case strings.HasPrefix(cfm, "y,,"):
		bare = cfm[3:]
	default:
		return errors.New("unsupported SCRAM channel binding")
	}
	clientNonce := ""
	for _, attr := range strings.Split(bare, ",") {
		if n, ok := strings.CutPrefix(attr, "r="); ok {
			clientNonce = n
		}
	}
	if clientNonce == "" {
		return errors.New("SCRAM: missing client nonce")
	}
	fake := v == nil
	if fake {
		salt := make([]byte, 16)
		rand.Read(salt)
		v = &Verifier{Iterations: scramIterations, Salt: salt, StoredKey: make([]byte, 32), ServerKey: make([]byte, 32)}
	}
	nonceBytes := make([]byte, 18)
	if _, err := rand.Read(nonceBytes); err != nil {
		return err
	}
	nonce := clientNonce + base64.StdEncoding.EncodeToString(nonceBytes)
	serverFirst := fmt.Sprintf("r=%s,s=%s,i=%d", nonce, base64.StdEncoding.EncodeToString(v.Salt), v.Iterations)
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = be.Receive()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return errors.New("expected SASLResponse")
	}
	// client-final-message: c=biws,r=nonce,p=proof
	final := string(resp.Data)
	i := strings.LastIndex(final, ",p=")
	if i < 0 {
		return errors.New("SCRAM: missing proof")
	}
	withoutProof := final[:i]
	proof, err := base64.StdEncoding.DecodeString(final[i+3:])
	if err != nil || len(proof) != sha256.Size {
		return errAuth
	}
	gotNonce := ""
	for _, attr := range strings.Split(withoutProof, ",") {
		if n, ok := strings.CutPrefix(attr, "r="); ok {
			gotNonce = n
		}
	}
	if gotNonce != nonce {
		return errAuth
	}
	authMessage := bare + "," + serverFirst + "," + withoutProof
	clientSig := hmacSHA256(v.StoredKey, []byte(authMessage))
	clientKey := make([]byte, sha256.Size)
	for j := range clientKey {
		clientKey[j] = proof[j] ^ clientSig[j]
	}
	check := sha256.Sum256(clientKey)
	if fake || subtle.ConstantTimeCompare(check[:], v.StoredKey) != 1 {
		return errAuth
	}
	serverSig := hmacSHA256(v.ServerKey, []byte(authMessage))
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return nil
}

// passwordExchange asks for a cleartext password (only ever over TLS) and
// checks it against the verifier.
func passwordExchange(be *pgproto3.Backend, v *Verifier) error {
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return err
	}
	msg, err := be.Receive()
	if err != nil {
		return err
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return errors.New("expected PasswordMessage")
	}
	if v == nil || !v.CheckPassword(string(bytes.TrimRight([]byte(pw.Password), "\x00"))) {
		return errAuth
	}
	return nil
}
