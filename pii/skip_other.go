//go:build purego || !amd64

package pii

const haveVec = false

func skipVec(text []byte, i int, flags *byte, pairs *uint32) int { return i }

var vecPairs = new([1]uint32)
