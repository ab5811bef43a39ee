//go:build unix

package embedkafka

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName sits in the data directory beside kfake's own files; kfake
// ignores files it does not know.
const lockFileName = "rialto-embedkafka.lock"

// lockDir takes an exclusive, non-blocking flock on dir's lock file. The
// kernel drops the lock if the process dies, so a crash never leaves the
// directory locked.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedkafka: locking data dir %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDataDirInUse, dir)
		}
		return nil, fmt.Errorf("embedkafka: locking data dir %s: %w", dir, err)
	}
	return f, nil
}
