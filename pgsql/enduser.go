package pgsql

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The attribute names of signed end-user attribution, as sqlcommenter keys.
// A gateway that takes them from SET custos.user etc. maps "custos.x" to
// "custos_x" before calling VerifyEndUser.
const (
	AttrUser      = "custos_user"
	AttrPurpose   = "custos_purpose"
	AttrTicket    = "custos_ticket"
	AttrTimestamp = "custos_ts"
	AttrSignature = "custos_sig"
)

// MaxEndUserSkew is how far a signed attribution's timestamp may be from the
// gateway's clock, either way. A signature older than this is rejected, so a
// captured comment cannot be replayed for long.
const MaxEndUserSkew = 5 * time.Minute

// Errors of VerifyEndUser. None of them carries the attribute values.
var (
	ErrEndUserMissing   = errors.New("pgsql: end-user attribution incomplete (custos_user, custos_ts and custos_sig are required)")
	ErrEndUserStale     = errors.New("pgsql: end-user attribution timestamp outside the allowed skew")
	ErrEndUserSignature = errors.New("pgsql: end-user attribution signature does not verify")
	ErrEndUserMalformed = errors.New("pgsql: end-user attribution malformed")
)

// SignEndUser computes the signature an application attaches as custos_sig:
// lower-case hex of HMAC-SHA256(key, user "|" purpose "|" ticket "|" ts),
// where ts is the Unix time in seconds in decimal. No field may contain "|".
func SignEndUser(key []byte, user, purpose, ticket string, ts time.Time) string {
	return hex.EncodeToString(endUserMAC(key, user, purpose, ticket, strconv.FormatInt(ts.Unix(), 10)))
}

func endUserMAC(key []byte, user, purpose, ticket, ts string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(user + "|" + purpose + "|" + ticket + "|" + ts))
	return m.Sum(nil)
}

// VerifyEndUser checks a signed end-user attribution (attrs holds the
// custos_* keys, as Analysis.Comment does) against the application's key and
// returns the end user. It fails when the user, timestamp or signature is
// missing, a field contains "|", the timestamp is more than MaxEndUserSkew
// from now, or the signature does not match. An empty key never verifies.
func VerifyEndUser(attrs map[string]string, key []byte, now time.Time) (string, error) {
	user, ts, sig := attrs[AttrUser], attrs[AttrTimestamp], attrs[AttrSignature]
	purpose, ticket := attrs[AttrPurpose], attrs[AttrTicket]
	if user == "" || ts == "" || sig == "" {
		return "", ErrEndUserMissing
	}
	if len(key) == 0 {
		return "", ErrEndUserSignature
	}
	for _, f := range []string{user, purpose, ticket} {
		if strings.Contains(f, "|") {
			return "", ErrEndUserMalformed
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: custos_ts is not Unix seconds", ErrEndUserMalformed)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxEndUserSkew || d < -MaxEndUserSkew {
		return "", ErrEndUserStale
	}
	got, err := hex.DecodeString(strings.ToLower(sig))
	if err != nil {
		return "", fmt.Errorf("%w: custos_sig is not hex", ErrEndUserMalformed)
	}
	if !hmac.Equal(got, endUserMAC(key, user, purpose, ticket, ts)) {
		return "", ErrEndUserSignature
	}
	return user, nil
}
