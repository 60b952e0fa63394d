// Package mask turns personal data into forms that reveal less: partial
// masks that follow Chinese conventions (138****5678, 110101********1234,
// 张*明), keyed deterministic tokens, generalization and nullification.
// Every transform is a pure function of its inputs; what each promises to
// keep (length, character set, joinability) is stated on it and tested.
package mask
