package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// WitnessHandler serves a FileWitness over HTTP, so that a ledger on
// another machine — another Custos, run by another team — can have its
// checkpoints cosigned here:
//
//	GET  …/latest   the last cosigned checkpoint (note text); 404 before the first
//	GET  …/history  every cosigned checkpoint, one base64 note a line
//	GET  …/log.pub  the ledger key the witness trusts
//	GET  …/witness.pub  the witness's own verifier key (compare it out of band)
//	POST …/cosign   {"checkpoint": "<note text>", "proof": ["<base64 hash>", …]}
//	                → the checkpoint with the witness's signature added
//
// Mount it under a prefix with http.StripPrefix. The checks are the
// FileWitness's: a checkpoint that does not extend the last one cosigned
// (rollback, fork, inconsistent proof) is refused with 409.
type WitnessHandler struct {
	W *FileWitness
}

type cosignRequest struct {
	Checkpoint string   `json:"checkpoint"`
	Proof      [][]byte `json:"proof"`
}

func (h WitnessHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	file := func(name string) {
		b, err := os.ReadFile(filepath.Join(h.W.dir, name))
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, "nothing cosigned yet", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, "witness storage unreadable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(b)
	}
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/latest"):
		file(witnessLatest)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/history"):
		file(witnessHistory)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/log.pub"):
		file(witnessLogPub)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/witness.pub"):
		file(witnessPubName)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cosign"):
		var req cosignRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "body: want {\"checkpoint\": \"…\", \"proof\": […]}", http.StatusBadRequest)
			return
		}
		cosigned, err := h.W.Cosign(r.Context(), []byte(req.Checkpoint), req.Proof)
		switch {
		case errors.Is(err, ErrRollback), errors.Is(err, ErrFork), errors.Is(err, ErrInconsistent):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(cosigned)
		}
	default:
		http.Error(w, "GET latest, history, log.pub or witness.pub; POST cosign", http.StatusNotFound)
	}
}

// HTTPWitness is a Witness reached over HTTP: a WitnessHandler on another
// host. Every cosignature it returns is checked against Key, the
// witness's own verifier key, which the operator of this ledger obtains
// out of band; a witness that answers without a valid cosignature fails.
type HTTPWitness struct {
	URL    string // e.g. https://custos-b.example.org/api/v1/witness
	Key    string // the witness's note verifier key
	Token  string // bearer token, if the witness's host requires one
	Client *http.Client
}

func (h *HTTPWitness) do(ctx context.Context, method, path string, body io.Reader) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(h.URL, "/")+path, body)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("ledger: witness %s: %w", h.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return b, resp.StatusCode, err
}

func (h *HTTPWitness) verifier() (note.Verifier, error) {
	v, err := note.NewVerifier(h.Key)
	if err != nil {
		return nil, fmt.Errorf("ledger: witness key: %w", err)
	}
	return v, nil
}

// Latest implements Witness.
func (h *HTTPWitness) Latest(ctx context.Context, origin string) (*log.Checkpoint, error) {
	wv, err := h.verifier()
	if err != nil {
		return nil, err
	}
	raw, code, err := h.do(ctx, http.MethodGet, "/latest", nil)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return nil, nil
	case code != http.StatusOK:
		return nil, fmt.Errorf("ledger: witness %s: latest answered %d", h.URL, code)
	}
	n, err := note.Open(raw, note.VerifierList(wv))
	if err != nil {
		return nil, fmt.Errorf("ledger: witness %s: latest is not cosigned by the witness key: %w", h.URL, err)
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, fmt.Errorf("ledger: witness %s: latest: %w", h.URL, err)
	}
	if cp.Origin != origin {
		return nil, fmt.Errorf("ledger: witness %s holds origin %q, not %q", h.URL, cp.Origin, origin)
	}
	return &cp, nil
}

// Cosign implements Witness.
func (h *HTTPWitness) Cosign(ctx context.Context, checkpoint []byte, proof [][]byte) ([]byte, error) {
	wv, err := h.verifier()
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(cosignRequest{Checkpoint: string(checkpoint), Proof: proof})
	raw, code, err := h.do(ctx, http.MethodPost, "/cosign", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		msg := strings.TrimSpace(string(raw))
		switch {
		case strings.Contains(msg, ErrRollback.Error()):
			return nil, fmt.Errorf("%w (witness %s: %s)", ErrRollback, h.URL, msg)
		case strings.Contains(msg, ErrFork.Error()):
			return nil, fmt.Errorf("%w (witness %s: %s)", ErrFork, h.URL, msg)
		}
		return nil, fmt.Errorf("ledger: witness %s refused to cosign (%d): %s", h.URL, code, msg)
	}
	if _, err := note.Open(raw, note.VerifierList(wv)); err != nil {
		return nil, fmt.Errorf("ledger: witness %s answered without a valid cosignature: %w", h.URL, err)
	}
	return raw, nil
}

// FetchWitnessed reads an HTTP witness's history the way ReadWitnessed
// reads a witness directory, with the ledger key the witness holds; it
// also returns that key, so Verify can tell a re-keyed ledger.
func (h *HTTPWitness) FetchWitnessed(ctx context.Context) (logKey string, out []WitnessedCheckpoint, err error) {
	pub, code, err := h.do(ctx, http.MethodGet, "/log.pub", nil)
	if err != nil {
		return "", nil, err
	}
	if code != http.StatusOK {
		return "", nil, fmt.Errorf("ledger: witness %s: log.pub answered %d", h.URL, code)
	}
	logKey = strings.TrimSpace(string(pub))
	hist, code, err := h.do(ctx, http.MethodGet, "/history", nil)
	if err != nil {
		return logKey, nil, err
	}
	if code == http.StatusNotFound {
		return logKey, nil, nil
	}
	if code != http.StatusOK {
		return logKey, nil, fmt.Errorf("ledger: witness %s: history answered %d", h.URL, code)
	}
	logV, err := note.NewVerifier(logKey)
	if err != nil {
		return logKey, nil, fmt.Errorf("ledger: witness %s: log key: %w", h.URL, err)
	}
	wv, err := h.verifier()
	if err != nil {
		return logKey, nil, err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(hist)), "\n") {
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return logKey, nil, fmt.Errorf("ledger: witness history line %d: %w", i+1, err)
		}
		cp, _, n, err := log.ParseCheckpoint(raw, logV.Name(), logV, wv)
		if err != nil {
			return logKey, nil, fmt.Errorf("ledger: witness history line %d: %w", i+1, err)
		}
		if !signedBy(n, wv) {
			return logKey, nil, fmt.Errorf("ledger: witness history line %d: no witness signature", i+1)
		}
		out = append(out, WitnessedCheckpoint{Checkpoint: *cp, Raw: raw})
	}
	return logKey, out, nil
}
