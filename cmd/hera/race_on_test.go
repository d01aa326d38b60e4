//go:build race

package main

// raceEnabled: the race detector slows the full-Unicode scan tenfold, so
// the race run scans a bounded slice; scripts/test.sh scans all of Unicode
// in a run without it.
const raceEnabled = true
