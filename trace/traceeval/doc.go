// Package traceeval measures leak tracing on synthetic organizations.
//
// Run builds an organization in memory — people, employees in units with
// their own customer segments, a popular set everybody handles, thousands
// of fingerprinted exports with heavy overlap (and some identical
// re-exports), and browsing — then leaks samples of 10, 20, 50 and 200
// records from exports (subsetted, re-sorted, reformatted, columns
// dropped, mixed with records from nowhere, written as CSV, JSON or chat
// text), from employees who only browsed, and from outside the
// organization, traces each with package trace and counts top-1 accuracy,
// confident verdicts and false accusations. `custos eval --trace` prints
// the result; docs/tracing.md holds the numbers.
package traceeval
