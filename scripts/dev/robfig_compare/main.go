// Prints the next run times robfig/cron v3 computes, for scripts/dev/robfig_compare.sh.
//
// Usage: robfig_next FROM COUNT < expressions.txt
// Each expression line (a leading "!" is dropped, "#" lines and blank lines are skipped) gives
// one output line: the expression, a tab, then "error" or the run times in RFC 3339 UTC,
// "none" standing for robfig's zero time (no run within five years).
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron"
)

// The parser snapcron's "standard" dialect follows: optional seconds plus descriptors.
var parser = cron.NewParser(
	cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor,
)

// parse turns robfig's panics (such as "TZ=UTC" with nothing after it) into errors.
func parse(expr string) (schedule cron.Schedule, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			err = fmt.Errorf("panic: %v", recovered)
		}
	}()
	return parser.Parse(expr)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: robfig_next FROM COUNT < expressions.txt")
		os.Exit(2)
	}
	from, err := time.Parse(time.RFC3339, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		expr := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(scanner.Text()), "!"))
		if expr == "" || strings.HasPrefix(expr, "#") {
			continue
		}
		schedule, err := parse(expr)
		if err != nil {
			fmt.Printf("%s\terror\n", expr)
			continue
		}
		times := []string{}
		t := from.UTC()
		for i := 0; i < count; i++ {
			t = schedule.Next(t)
			if t.IsZero() {
				times = append(times, "none")
				break
			}
			times = append(times, t.UTC().Format(time.RFC3339))
		}
		fmt.Printf("%s\t%s\n", expr, strings.Join(times, " "))
	}
}
