// Package corpus generates labelled synthetic text for measuring the pii
// detectors: Chinese and English lines with personal information at exact
// byte spans, written in the forms people and insiders use (grouped,
// full-width, Chinese numerals, with and without context words), mixed
// with hard negatives that look like personal data but are not — order
// and tracking numbers, timestamps, hashes, UUIDs, card-like numbers that
// fail Luhn, ID-like numbers that fail their check digit.
//
// Every value is synthetic: identifiers are built from random digits with
// their check characters computed here, independently of package pii, so
// that the corpus also cross-checks the validators. Output depends only
// on the seed.
package corpus
