package testio

import "os"

// StressEnv is the environment variable that makes the tests run their stress and soak loops in
// full: PCWEBHOOK_STRESS=1 (.ci/run sets it for its race run). Without it those loops run a
// small version, enough to exercise the behaviour, so that the default run stays fast.
const StressEnv = "PCWEBHOOK_STRESS"

// Stress reports whether StressEnv is set to 1.
func Stress() bool { return os.Getenv(StressEnv) == "1" }

// Count returns stress when StressEnv is set to 1, else small: the iteration count of a loop
// whose full length only adds time to the default run.
func Count(small, stress int) int {
	if Stress() {
		return stress
	}
	return small
}
