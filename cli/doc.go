// Package cli is the custos command tree: one file per subcommand, each
// mapping flags and configuration onto the capability packages. Main runs
// a command in-process so that end-to-end tests drive the real binary's
// code paths without a subprocess.
package cli
