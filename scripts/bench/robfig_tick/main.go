// The peer of snapcron's `schedule` benchmark (scripts/bench/schedule.ts): robfig/cron v3
// (Debian's golang-github-robfig-cron-dev) runs a shell script every second, the way a
// snapcron shell job does (`/bin/sh -c SCRIPT`), until SIGTERM.
//
// Usage: robfig_tick SCRIPT
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/robfig/cron"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: robfig_tick SCRIPT")
		os.Exit(2)
	}
	script := os.Args[1]
	scheduler := cron.New(cron.WithSeconds())
	_, err := scheduler.AddFunc("* * * * * *", func() {
		if err := exec.Command("/bin/sh", "-c", script).Run(); err != nil {
			fmt.Fprintln(os.Stderr, "run failed:", err)
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	scheduler.Start()
	fmt.Println("ready")
	<-stop
	<-scheduler.Stop().Done()
}
