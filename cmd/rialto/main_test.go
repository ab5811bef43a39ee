package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickstartDev builds the real binary and runs the README's first
// command, `rialto dev`, the way a person does: wait for "ready", press
// Ctrl-C, expect a clean exit.
func TestQuickstartDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "rialto")
	build := exec.Command(goTool(), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "dev", "--data-dir", t.TempDir(), "--controller-addr", "127.0.0.1:0", "--server-port", "0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	ready := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if sc.Text() == "ready" {
				ready <- lines
				break
			}
		}
		for sc.Scan() {
		}
		close(ready)
	}()
	select {
	case lines, ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("rialto dev exited before ready; stderr:\n%s", stderr.String())
		}
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "data dir: ") || !strings.HasPrefix(lines[1], "controller: http://127.0.0.1:") ||
			!strings.HasPrefix(lines[2], "region 1 (region-1): kafka 127.0.0.1:") {
			t.Errorf("unexpected output before ready: %q", lines)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no ready within 60s; stderr:\n%s", stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rialto dev after SIGINT: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("rialto dev did not exit within 30s of SIGINT; stderr:\n%s", stderr.String())
	}
}

// goTool is the go command that is running this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}
