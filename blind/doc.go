// Package blind owns the keyed blind index: the only form in which Custos
// stores, publishes and queries data subjects' identifiers.
//
// An identifier is normalized for its type (pii.Normalize) and hashed with
// HMAC-SHA256 under a key generated at `custos init`. The same person's ID
// number written with full-width digits or a lower-case x finds the same
// history; without the key, the index cannot be reversed by enumerating
// the (small) space of valid phone or ID numbers.
package blind
