package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ksc-project/ksc/enforce"
	"golang.org/x/sys/unix"
)

// awaitConfirmation reports what the rollback guard decides: it keeps the
// new ruleset when confirmed in time, and restores the previous one
// otherwise. Hanging up (a lost SSH session) is ignored; Ctrl-C rolls back
// at once; Enter confirms only at a terminal, and only after the prompt.
func awaitConfirmation(e env, g *enforce.Guard, timeout time.Duration, netns string) int {
	defer g.Close()
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	g.Tell("applied")
	if word, text := g.Read(); word != "waiting" {
		return outcome(e, g, word, text)
	}

	confirmCmd := "ksc confirm"
	if netns != "" {
		confirmCmd += " --netns " + netns
	}
	if tty, ok := terminal(e.stdin); ok {
		// A newline already waiting (typed before the prompt) is dropped.
		unix.IoctlSetInt(int(tty.Fd()), unix.TCFLSH, unix.TCIFLUSH)
		go func() {
			if _, err := bufio.NewReader(tty).ReadString('\n'); err == nil {
				g.Tell("confirm")
			}
		}()
		fmt.Fprintf(e.stderr, "ksc apply: applied. Press Enter here, or run %q, within %s to keep it; otherwise the previous ruleset comes back.\n", confirmCmd, timeout)
	} else {
		fmt.Fprintf(e.stderr, "ksc apply: applied. Run %q within %s to keep it; otherwise the previous ruleset comes back.\n", confirmCmd, timeout)
	}
	go func() {
		if _, ok := <-signals; ok {
			g.Tell("rollback")
		}
	}()
	word, text := g.Read()
	return outcome(e, g, word, text)
}

// outcome reports the guard's notes and last word, starting with word.
func outcome(e env, g *enforce.Guard, word, text string) int {
	for ; word == "note"; word, text = g.Read() {
		fmt.Fprintf(e.stderr, "ksc apply: %s\n", text)
	}
	switch word {
	case "confirmed":
		fmt.Fprintf(e.stderr, "ksc apply: %s\n", text)
		return exitOK
	case "restored", "failed":
		fmt.Fprintf(e.stderr, "ksc apply: %s\n", text)
		return exitFailure
	default:
		fmt.Fprintln(e.stderr, "ksc apply: the rollback guard ended without a word; \"ksc confirm\" tells its last one")
		return exitFailure
	}
}

const guardUsage = `Usage: ksc ` + enforce.GuardCommand + ` ...

Internal: the rollback guard that "ksc apply --confirm" starts. Not for
use by hand.
`

func runGuard(_ env, args []string) int { return enforce.RunGuard(args) }

const confirmUsage = `Usage: ksc confirm [--netns NAME]

Confirm a "ksc apply --confirm" that is waiting, so that it keeps the new
ruleset instead of rolling back. It works even when the apply that started
it was killed or lost its terminal: the rollback guard it started is what
waits. With nothing waiting, it says what the last one decided, or that
its guard died without a word.
`

func runConfirm(e env, args []string) int {
	flags := newFlags(e, "confirm")
	netns := flags.String("netns", "", "the namespace the waiting apply was given")
	if code := parseFlags(e, flags, confirmUsage, args); code >= 0 {
		return code
	}
	confirmed, msg, err := enforce.Namespace(*netns).Confirm()
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc confirm: %v\n", err)
		return exitFailure
	}
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(e.stderr, "ksc confirm: %s\n", line)
	}
	if !confirmed {
		return exitFailure
	}
	return exitOK
}
