// Command rialto is Rialto's one binary. Its commands live in internal/cli;
// run `rialto --help` for them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rialtodb/rialto/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal shuts down cleanly; a second one kills
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
