package embedkafka

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestSlogAdapterLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := slogAdapter{l}
	a.Logf(kfake.LogLevelError, "e %d", 1)
	a.Logf(kfake.LogLevelWarn, "w %s", "x")
	a.Logf(kfake.LogLevelInfo, "i")
	a.Logf(kfake.LogLevelDebug, "dropped by the handler")
	a.Logf(kfake.LogLevelNone, "never")
	out := buf.String()
	for _, want := range []string{`level=ERROR msg="e 1" component=kfake`, `level=WARN msg="w x"`, `level=INFO msg=i`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dropped") || strings.Contains(out, "never") {
		t.Errorf("log kept what the handler's level or LogLevelNone should drop:\n%s", out)
	}
}
