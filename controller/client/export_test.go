package client

import "time"

// SetCacheTTL shortens the schema cache's lifetime for a test; the
// returned func restores it.
func SetCacheTTL(d time.Duration) (restore func()) {
	old := cacheTTL
	cacheTTL = d
	return func() { cacheTTL = old }
}
