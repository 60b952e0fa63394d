//go:build !purego

package pii

import "golang.org/x/sys/cpu"

// haveVec says whether this CPU runs skipVec (skip_amd64.s, AVX-512):
// the first pass then steps over text 64 bytes at a time and stops only
// where something may start.
var haveVec = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI && cpu.X86.HasBMI2

// skipVec returns the first index p ≥ i where the first pass may find
// something, or where fewer than 65 bytes are left. It passes only what
// the Go loop passes or steps over without a match:
//   - bytes skipPlain passes, and ';' to '?';
//   - letters and digits glued to a token (the Go loop skips the token),
//     and capitals followed by a lower-case letter, but for "Na";
//   - bytes of sequences other than 3-byte characters, and malformed ones;
//   - Han characters whose pair with the next one is not in vecPairs,
//     that are not full-width digits and not followed by a sequence
//     decode3 rejects; the last one of a run as hanSkip decides it.
//
// At p the Go loop decides as before. i must be at least 2 (skipVec reads
// the two bytes before i). flags is hanFlags, pairs vecPairs.
//
//go:noescape
func skipVec(text []byte, i int, flags *byte, pairs *uint32) int

// vecPairLog is the size of skipVec's pair filter in bits (2^20, 128
// KiB): four times pairBits, as it stands for the per-character flags
// too (skipVec does not load them for every character), so that it stops
// at fewer pairs that start nothing.
const vecPairLog = 20

func vecPairKey(r1, r2 rune) uint32 {
	return (uint32(r1)<<16 ^ uint32(r2)) * 0x9E3779B1 >> (32 - vecPairLog)
}

// vecPairs holds the pairs of characters at which hanSkip may stop, for
// characters followed by another one: the first two of every dictionary
// word pairBits holds, and a Chinese numeral followed by a numeral or a
// full-width digit. Built only on CPUs that run skipVec (nil elsewhere:
// the first pass never reads it there).
var vecPairs = func() *[1 << (vecPairLog - 5)]uint32 {
	if !haveVec {
		return nil
	}
	var b [1 << (vecPairLog - 5)]uint32
	set := func(r1, r2 rune) {
		k := vecPairKey(r1, r2)
		b[k>>5] |= 1 << (k & 31)
	}
	eachPair(set)
	var nums, next []rune
	for r := range rune(0x10000) {
		if hanFlags[r]&hanNum != 0 {
			nums = append(nums, r)
		}
		if hanFlags[r]&(hanNum<<hanNext) != 0 && hanFlags[r]&(hanWord<<hanNext) == 0 { // not rejected by decode3
			next = append(next, r)
		}
	}
	for _, a := range nums {
		for _, c := range next {
			set(a, c)
		}
	}
	return &b
}()
