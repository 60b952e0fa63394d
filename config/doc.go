// Package config reads custos.yaml: strict decoding (an unknown or
// misplaced key is an error naming its file, line and column), defaults
// for everything omitted, CUSTOS_* environment overrides, and validation
// that names each bad field.
package config
