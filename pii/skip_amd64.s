//go:build !purego

#include "textflag.h"

// skipVec: the first pass's skip loops (skipPlain, hanSkip and the
// dispatch cases that only step over a byte or a token) over 64 bytes at a
// time with AVX-512 (F, BW, VBMI). skip_amd64.go says what it returns and
// when it runs.

#define VEC_PAIR_LOG 20
#define c0C0F0 hanConst<>+0(SB)
#define c8080E0 hanConst<>+4(SB)
#define c0F hanConst<>+8(SB)
#define cFC0 hanConst<>+12(SB)
#define c3F hanConst<>+16(SB)
#define cMul hanConst<>+20(SB)
#define c31 hanConst<>+24(SB)
#define c1 hanConst<>+28(SB)
#define cFF10 hanConst<>+32(SB)
#define c10 hanConst<>+36(SB)
#define c800 hanConst<>+40(SB)
#define cD800 hanConst<>+44(SB)

// WORDMASK sets out's bit k when byte k of zx is a letter, digit or '_'.
#define WORDMASK(zx, out) \
	VPSUBB Z17, zx, Z4; VPCMPUB $2, Z18, Z4, K1; \
	VPSUBB Z19, zx, Z4; VPCMPUB $2, Z20, Z4, K2; KORQ K1, K2, K1; \
	VPSUBB Z21, zx, Z4; VPCMPUB $2, Z20, Z4, K2; KORQ K1, K2, K1; \
	VPCMPEQB Z22, zx, K2; KORQ K1, K2, K1; \
	KMOVQ K1, out


// func skipVec(text []byte, i int, flags *byte, pairs *uint64) int
TEXT ·skipVec(SB), NOSPLIT, $0-56
	MOVQ text_base+0(FP), SI
	MOVQ text_len+8(FP), DX
	MOVQ i+24(FP), BX
	MOVQ flags+32(FP), R8
	MOVQ pairs+40(FP), R9
	VMOVDQU64 hanIdxX<>(SB), Z14
	VMOVDQU64 hanIdxY<>(SB), Z15
	VPXORD Z16, Z16, Z16
	VPBROADCASTB asciiConst<>+0(SB), Z17 // '0'
	VPBROADCASTB asciiConst<>+1(SB), Z18
	VPBROADCASTB asciiConst<>+2(SB), Z19 // 'A'
	VPBROADCASTB asciiConst<>+3(SB), Z20
	VPBROADCASTB asciiConst<>+4(SB), Z21 // 'a'
	VPBROADCASTB asciiConst<>+5(SB), Z22 // '_'
	VPBROADCASTB asciiConst<>+6(SB), Z23 // '-'
	VPBROADCASTB asciiConst<>+7(SB), Z24 // '.'
	VPBROADCASTB asciiConst<>+8(SB), Z25 // '+'
	VPBROADCASTB asciiConst<>+9(SB), Z26 // ':'
	VPBROADCASTB asciiConst<>+10(SB), Z27 // '@'
	VPBROADCASTB asciiConst<>+11(SB), Z28 // 'N'
	VPBROADCASTB asciiConst<>+12(SB), Z29 // 'n'
	VPBROADCASTB asciiConst<>+13(SB), Z30
	VPBROADCASTB asciiConst<>+14(SB), Z31

	// Started at a lead byte (the Go loop decided the Han character
	// before): straight to the Han block.
	MOVBLZX (SI)(BX*1), AX
	SUBL $0xE0, AX
	CMPL AX, $0x0F
	JLS han

ascii:
	// the block, the byte after it and the two before it
	LEAQ 65(BX), AX
	CMPQ AX, DX
	JHI out
	VMOVDQU8 (SI)(BX*1), Z0
	VMOVDQU8 1(SI)(BX*1), Z1
	VMOVDQU8 -1(SI)(BX*1), Z2
	VMOVDQU8 -2(SI)(BX*1), Z3
	WORDMASK(Z2, R10)             // after a word byte
	WORDMASK(Z3, R11)

	// digits not inside a token (ORDER2024, SKU-123, a UUID's groups)
	VPCMPEQB Z23, Z2, K1
	VPCMPEQB Z24, Z2, K2
	KORQ K1, K2, K1
	KMOVQ K1, R12
	ANDQ R11, R12
	ORQ R10, R12                  // glued to a token
	VPSUBB Z17, Z0, Z4
	VPCMPUB $2, Z18, Z4, K1
	KMOVQ K1, R13
	MOVQ R13, R11                 // all digits
	NOTQ R12
	ANDQ R12, R13

	// ... but for runs of one to three digits, with single separators
	// between them, that shortRun passes: the byte after them (E) is a
	// lower-case letter, or ASCII that is not a word byte or '+', nor a
	// separator (' ', '-', '.') before a digit or a non-ASCII byte.
	// Past the block nothing counts as E.
	VPMOVB2M Z0, K3               // non-ASCII
	KMOVQ K3, DI
	MOVQ R11, AX
	ORQ DI, AX
	SHRQ $1, AX
	BTSQ $63, AX                  // the next byte is a digit or non-ASCII
	VPCMPEQB Z23, Z0, K4
	VPCMPEQB Z24, Z0, K5
	KORQ K4, K5, K4
	VPCMPEQB spaces<>(SB), Z0, K5
	KORQ K4, K5, K4
	KMOVQ K4, CX
	ANDQ AX, CX                   // separators that go on
	ORQ DI, CX
	MOVQ R10, AX
	SHRQ $1, AX
	BTSQ $63, AX                  // word bytes
	ORQ AX, CX
	VPCMPEQB Z25, Z0, K5
	KMOVQ K5, AX
	ORQ AX, CX
	NOTQ CX
	VPSUBB Z21, Z0, Z4
	VPCMPUB $2, Z20, Z4, K5
	KMOVQ K5, AX
	ORQ AX, CX                    // E
	// A run goes on over digits (D) and over separators before a digit
	// (S1). T1[k]: from k the run ends at an E after at most one more
	// digit; T2: after at most two. A digit at k starts a passable run
	// when T2[k+1] (three digits at most, as "42.7s", "1 2", "12ms").
	KMOVQ K4, R12
	MOVQ R11, AX
	SHRQ $1, AX
	ANDQ AX, R12                  // S1
	MOVQ CX, AX
	SHRQ $1, AX
	ANDQ R11, AX
	MOVQ CX, DI
	SHRQ $2, DI
	ANDQ R12, DI
	ORQ DI, AX
	ORQ CX, AX                    // T1 = E | D & E>>1 | S1 & E>>2
	MOVQ AX, DI
	SHRQ $1, DI
	ANDQ R11, DI
	SHRQ $2, AX
	ANDQ R12, AX
	ORQ DI, AX
	ORQ CX, AX                    // T2 = E | D & T1>>1 | S1 & T1>>2
	SHRQ $1, AX
	ANDQ R13, AX
	XORQ AX, R13

	// capitals that start a token, unless a lower-case letter follows
	// (no type but "Name" has one there)
	VPSUBB Z19, Z0, Z4
	VPCMPUB $2, Z20, Z4, K1
	KMOVQ K1, AX
	VPSUBB Z21, Z1, Z4
	VPCMPUB $2, Z20, Z4, K1
	KMOVQ K1, CX                  // a lower-case letter follows
	VPCMPEQB Z21, Z1, K2          // an 'a' follows
	VPCMPEQB Z28, Z0, K2, K3      // "Na"
	KMOVQ K3, DI
	NOTQ DI
	ANDQ DI, CX
	NOTQ CX
	ANDQ CX, AX
	NOTQ R10
	ANDQ R10, AX
	ORQ AX, R13

	// "na" of "name", not inside a token
	VPCMPEQB Z29, Z0, K2, K3
	KMOVQ K3, AX
	ANDQ R10, AX
	ORQ AX, R13

	// '+', ':', '@'
	VPCMPEQB Z25, Z0, K1
	VPCMPEQB Z26, Z0, K2
	KORQ K1, K2, K1
	VPCMPEQB Z27, Z0, K2
	KORQ K1, K2, K1
	KMOVQ K1, AX
	ORQ AX, R13

	// Lead bytes of 3-byte characters. The Han block's address depends
	// on them alone, not on the longer chain of the ASCII rules above,
	// which only a branch waits for: switching between ASCII text and
	// Han text costs less.
	VPSUBB Z30, Z0, Z4
	VPCMPUB $2, Z31, Z4, K1
	KMOVQ K1, AX
	TESTQ AX, AX
	JNZ asciiLead
	TESTQ R13, R13
	JNZ asciiFound
	ADDQ $64, BX
	JMP ascii

asciiLead:
	TZCNTQ AX, AX
	BZHIQ AX, R13, CX             // ASCII candidates before it
	TESTQ CX, CX
	JNZ asciiFound
	ADDQ AX, BX
	JMP han

asciiFound:
	TZCNTQ R13, R13
	ADDQ R13, BX
	JMP out                       // the Go loop decides

han:
	// Sixteen characters a block, lane k holding the four bytes at j+3k
	// (X: the character and one byte more) and at j+3k+3 (Y: the next
	// one's). Lane 15 only looks ahead: a block passes at most 15.
	LEAQ 64(BX), AX
	CMPQ AX, DX
	JHI out
	VMOVDQU8 (SI)(BX*1), Z0
	VPERMB Z0, Z14, Z1 // X
	VPERMB Z0, Z15, Z2 // Y

	// well-formed 3-byte characters
	VPANDD.BCST c0C0F0, Z1, Z3
	VPCMPEQD.BCST c8080E0, Z3, K1
	KMOVW K1, CX
	TESTL $1, CX
	JZ hanNotOne

	// r: the 16 bits the character carries
	VPANDD.BCST c0F, Z1, Z4
	VPSLLD $12, Z4, Z4
	VPSRLD $2, Z1, Z5
	VPANDD.BCST cFC0, Z5, Z5
	VPSRLD $16, Z1, Z6
	VPANDD.BCST c3F, Z6, Z6
	VPTERNLOGD $0xFE, Z5, Z6, Z4

	// r2: the next character's (lane 15: none)
	VALIGND $1, Z4, Z16, Z8

	// the stop filter's bit for (r, r2): vecPairKey
	VPSLLD $16, Z4, Z10
	VPXORD Z8, Z10, Z10
	VPMULLD.BCST cMul, Z10, Z10
	VPSRLD $(32-VEC_PAIR_LOG), Z10, Z10
	VPSRLD $5, Z10, Z11
	KXNORW K3, K3, K3
	VPXORD Z12, Z12, Z12
	VPGATHERDD (R9)(Z11*4), K3, Z12
	VPANDD.BCST c31, Z10, Z10
	VPSRLVD Z10, Z12, Z12
	VPTESTMD.BCST c1, Z12, K4

	// full-width digits, and characters before a 3-byte sequence
	// decode3 rejects (overlong, surrogate)
	VPSUBD.BCST cFF10, Z4, Z13
	VPCMPUD.BCST $1, c10, Z13, K5
	KORW K4, K5, K4
	VPCMPUD.BCST $1, c800, Z8, K5
	KORW K4, K5, K4
	VPSUBD.BCST cD800, Z8, Z13
	VPCMPUD.BCST $1, c800, Z13, K5
	KORW K4, K5, K4
	KMOVW K4, R10

	// CX: the first lane that is not a 3-byte character (1..16)
	NOTL CX
	TZCNTL CX, CX
	CMPL CX, $16
	JEQ hanFull
	DECL CX                       // the run's last character
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	ANDL R10, AX
	JNZ hanStopAt

	// The last character of the run, by hanFlags as hanSkip decides it:
	// it stops when it is a full-width digit, may start a word or a
	// number, or is a plate province before a capital.
	LEAQ (CX)(CX*2), CX
	ADDQ CX, BX
	MOVBLZX (SI)(BX*1), AX
	ANDL $0x0F, AX
	SHLL $12, AX
	MOVBLZX 1(SI)(BX*1), DI
	ANDL $0x3F, DI
	SHLL $6, DI
	ORL DI, AX
	MOVBLZX 2(SI)(BX*1), DI
	ANDL $0x3F, DI
	ORL DI, AX
	MOVBLZX (R8)(AX*1), AX
	TESTL $7, AX
	JNZ out
	TESTL $8, AX
	JZ hanPass
	MOVBLZX 3(SI)(BX*1), DI
	SUBL $0x41, DI
	CMPL DI, $26
	JCS out

hanPass:
	ADDQ $3, BX                   // ASCII or another length follows
	JMP ascii

hanFull:
	ANDL $0x7FFF, R10
	JNZ hanStopR10
	ADDQ $45, BX
	JMP han

hanStopR10:
	MOVL R10, AX

hanStopAt:
	TZCNTL AX, AX
	LEAQ (AX)(AX*2), AX
	ADDQ AX, BX
	JMP out

hanNotOne:
	// not a well-formed 3-byte character: the Go loop steps over its
	// first byte and decides nothing else there
	INCQ BX
	JMP ascii

out:
	MOVQ BX, ret+48(FP)
	VZEROUPPER
	RET

// VPERMB indices: lane k of X holds bytes 3k..3k+3 of the block (the
// character and one byte more), of Y bytes 3k+3..3k+6 (the next one's)
DATA hanIdxX<>+0(SB)/8, $0x0605040303020100
DATA hanIdxX<>+8(SB)/8, $0x0c0b0a0909080706
DATA hanIdxX<>+16(SB)/8, $0x1211100f0f0e0d0c
DATA hanIdxX<>+24(SB)/8, $0x1817161515141312
DATA hanIdxX<>+32(SB)/8, $0x1e1d1c1b1b1a1918
DATA hanIdxX<>+40(SB)/8, $0x2423222121201f1e
DATA hanIdxX<>+48(SB)/8, $0x2a29282727262524
DATA hanIdxX<>+56(SB)/8, $0x302f2e2d2d2c2b2a
GLOBL hanIdxX<>(SB), RODATA|NOPTR, $64
DATA hanIdxY<>+0(SB)/8, $0x0908070606050403
DATA hanIdxY<>+8(SB)/8, $0x0f0e0d0c0c0b0a09
DATA hanIdxY<>+16(SB)/8, $0x151413121211100f
DATA hanIdxY<>+24(SB)/8, $0x1b1a191818171615
DATA hanIdxY<>+32(SB)/8, $0x21201f1e1e1d1c1b
DATA hanIdxY<>+40(SB)/8, $0x2726252424232221
DATA hanIdxY<>+48(SB)/8, $0x2d2c2b2a2a292827
DATA hanIdxY<>+56(SB)/8, $0x33323130302f2e2d
GLOBL hanIdxY<>(SB), RODATA|NOPTR, $64

// the dword constants of the Han block, broadcast from memory
DATA hanConst<>+0(SB)/4, $0xc0c0f0 // c0C0F0
DATA hanConst<>+4(SB)/4, $0x8080e0 // c8080E0
DATA hanConst<>+8(SB)/4, $0xf // c0F
DATA hanConst<>+12(SB)/4, $0xfc0 // cFC0
DATA hanConst<>+16(SB)/4, $0x3f // c3F
DATA hanConst<>+20(SB)/4, $0x9e3779b1 // cMul
DATA hanConst<>+24(SB)/4, $0x1f // c31
DATA hanConst<>+28(SB)/4, $0x1 // c1
DATA hanConst<>+32(SB)/4, $0xff10 // cFF10
DATA hanConst<>+36(SB)/4, $0xa // c10
DATA hanConst<>+40(SB)/4, $0x800 // c800
DATA hanConst<>+44(SB)/4, $0xd800 // cD800
GLOBL hanConst<>(SB), RODATA|NOPTR, $48

// ' ' in every byte: the ASCII block compares with it from memory (every
// vector register holds a constant already)
DATA spaces<>+0(SB)/8, $0x2020202020202020
DATA spaces<>+8(SB)/8, $0x2020202020202020
DATA spaces<>+16(SB)/8, $0x2020202020202020
DATA spaces<>+24(SB)/8, $0x2020202020202020
DATA spaces<>+32(SB)/8, $0x2020202020202020
DATA spaces<>+40(SB)/8, $0x2020202020202020
DATA spaces<>+48(SB)/8, $0x2020202020202020
DATA spaces<>+56(SB)/8, $0x2020202020202020
GLOBL spaces<>(SB), RODATA|NOPTR, $64

// the bytes skipVec's ASCII rules compare with, in the order of Z17-Z31
DATA asciiConst<>+0(SB)/8, $0x2e2d5f6119410930
DATA asciiConst<>+8(SB)/8, $0x000fe06e4e403a2b
GLOBL asciiConst<>(SB), RODATA|NOPTR, $16
