// Package testscale sizes the suites that have a short and a long variant.
//
// CI runs the short variants. Setting RIALTO_LONG=1 (`make long`) runs the
// long ones: the crash driver's million operations, the hundred-thousand
// operation convergence stress and the like. A test chooses its size with
// Pick, so both variants run the same code and only the numbers differ.
package testscale

import "os"

// Env names the environment variable that selects the long variants.
const Env = "RIALTO_LONG"

// Long reports whether the long variants were asked for.
func Long() bool {
	v := os.Getenv(Env)
	return v != "" && v != "0" && v != "false"
}

// Pick returns long when the long variants run and short otherwise.
func Pick[T any](short, long T) T {
	if Long() {
		return long
	}
	return short
}
