//go:build !unix

package embedkafka

import (
	"fmt"
	"os"
	"path/filepath"
)

const lockFileName = "rialto-embedkafka.lock"

// lockDir does not lock on platforms without flock: there the data
// directory is not guarded against a second user (guarantee 5 in the package
// doc holds on unix only). Rialto develops and runs on Linux.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedkafka: locking data dir %s: %w", dir, err)
	}
	return f, nil
}
