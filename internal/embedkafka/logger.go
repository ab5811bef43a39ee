package embedkafka

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// slogAdapter turns kfake's printf-style logs into slog records.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelInfo
	case kfake.LogLevelDebug:
		lvl = slog.LevelDebug
	default:
		return
	}
	ctx := context.Background()
	if !a.l.Enabled(ctx, lvl) {
		return // don't format what nobody keeps
	}
	a.l.Log(ctx, lvl, fmt.Sprintf(msg, args...), "component", "kfake")
}
