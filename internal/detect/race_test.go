//go:build race

package detect

// raceEnabled makes the slow data-driven tests use less data under the
// race detector, which is ~10x slower.
const raceEnabled = true
