// Command trailwatch collects, verifies and analyzes AWS CloudTrail logs and
// Amazon S3 server access logs. Run `trailwatch --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/trailwatch/trailwatch/internal/cli"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	code := cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, sigs)
	os.Exit(code)
}
