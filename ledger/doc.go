// Package ledger keeps Custos's tamper-evident log: every stored event, in
// store sequence order, appended to a transparency-dev/tessera log (POSIX
// driver under <data>/ledger/log, or Tessera's MySQL driver with
// Options.MySQL), with signed checkpoints, an external
// witness that cosigns them, a small index from event ID to leaf index for
// inclusion proofs, and Verify, which recomputes the tree from the entries
// and names the first entry that differs.
//
// The ledger owns: the entry encoding (Record), the signing key
// (<dir>/signer.key, ed25519, note format), the leaf index
// (<dir>/index.db), the follower that drains an event store into the log,
// the file witness, proofs and verification. It does not own the events:
// they are sealed (subjects blind-indexed) before they reach it, so the log
// holds no personal values.
package ledger
