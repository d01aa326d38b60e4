// Package layers holds only a test: that Hera's imports point down the
// layers docs/architecture.md draws, so that no package comes to depend on
// one above it (the HTTP layer on the wiring, the policy on the HTTP layer).
package layers
