package crash

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildBinary builds cmd/rialto into dir and returns the binary's path.
// It runs the go command of the running toolchain (or the one on PATH),
// inside this module.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "rialto")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "github.com/rialtodb/rialto/cmd/rialto")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/rialto: %w\n%s", err, out)
	}
	return bin, nil
}

func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// proc is one child process of the real binary (a server or the
// controller), restartable with the same arguments. Its stdout and stderr
// are appended to a log file, with a line marking each start.
type proc struct {
	name string
	bin  string
	args []string
	log  string
	addr string // its HTTP address, host:port

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd exited
	killed  bool          // the driver killed or stopped it
	exitErr error
	starts  int
	// unexpected records exits the driver did not cause.
	unexpected []string
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.name)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(f, "=== crash driver: start %d of %s at %s\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.killed = cmd, done, false
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.exitErr = err
		if !p.killed {
			p.unexpected = append(p.unexpected, fmt.Sprintf("%s exited by itself at %s: %v (log %s)", p.name, time.Now().Format(time.RFC3339), err, p.log))
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// signal sends sig and waits up to wait for the process to exit; it is
// then forgotten, so start may run it again. SIGKILL is the crash.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil {
		p.mu.Unlock()
		return nil
	}
	p.killed = true
	p.mu.Unlock()
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		p.mu.Lock()
		p.cmd = nil
		p.mu.Unlock()
		return fmt.Errorf("%s did not exit within %s of %s; killed", p.name, wait, sig)
	}
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
	return nil
}

func (p *proc) kill() { p.signal(syscall.SIGKILL, time.Minute) }

// stop ends the process cleanly (SIGTERM), killing it if it hangs.
func (p *proc) stop() error { return p.signal(syscall.SIGTERM, 30*time.Second) }

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

func (p *proc) problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.unexpected...)
}

// logTail is the end of the process's log.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200 or ctx ends.
func waitHTTP(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
