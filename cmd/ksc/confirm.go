package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/flows"
	"golang.org/x/sys/unix"
)

// The rollback of "ksc apply --confirm" lives in a guard: a ksc process of
// its own session, started before the apply, that takes the snapshot,
// waits for the confirmation and restores at the deadline. Killing the
// apply by any signal, or losing its terminal, leaves the guard running,
// so the rollback still happens. The guard shares the apply lock, so no
// other apply on the namespace runs until it is done.
//
// The apply and the guard talk over a socket pair, one line a message:
//
//	guard → apply: "ready", or "error TEXT"
//	apply → guard: "applied", "not-applied", "confirm" (Enter), "rollback" (Ctrl-C)
//	guard → apply: "waiting" once "ksc confirm" can reach it, then
//	               "note TEXT"..., then "confirmed TEXT", "restored TEXT" or "failed TEXT"
//
// "ksc confirm" reaches the guard through a unix socket in runDir named
// after the namespace's identity. A socket cannot be recycled the way a
// pid can: when the guard is gone, connecting fails.

const guardCommand = "_rollback-guard"

// guardConfig is what the guard needs to know; it travels as arguments.
type guardConfig struct {
	nsPath       string
	netns        string // as the user gave it, for messages
	timeout      time.Duration
	replaces     []kernel.TableRef
	flushRuleset bool
	socket       string // where "ksc confirm" finds the guard
	outcome      string // where the guard leaves its last word
}

func (c guardConfig) args() []string {
	args := []string{guardCommand, "--netns-path", c.nsPath, "--netns", c.netns, "--timeout", c.timeout.String(),
		"--socket", c.socket, "--outcome", c.outcome}
	for _, r := range c.replaces {
		args = append(args, "--replaces", r.String())
	}
	if c.flushRuleset {
		args = append(args, "--flush-ruleset")
	}
	return args
}

// rollbackGuard is the apply's end of the conversation with its guard.
type rollbackGuard struct {
	conn    net.Conn
	replies *bufio.Reader
	process *os.Process
}

// guardFiles names the socket and the outcome file of the guard for a
// namespace (empty: the current one).
func guardFiles(netns string) (socket, outcome string, err error) {
	key, err := namespaceKey(netns)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(runDir, "confirm-"+key+".sock"), filepath.Join(runDir, "confirm-"+key+".outcome"), nil
}

// startGuard starts the guard and waits until it holds a snapshot it has
// proved it can restore.
func startGuard(cfg guardConfig, lock *os.File) (*rollbackGuard, error) {
	var err error
	if cfg.socket, cfg.outcome, err = guardFiles(cfg.netns); err != nil {
		return nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "guard"), os.NewFile(uintptr(pair[1]), "apply")
	defer theirs.Close()
	exe, err := os.Executable()
	if err != nil {
		ours.Close()
		return nil, err
	}
	// argv[0] is "ksc" so that a test binary standing in for ksc runs it.
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"ksc"}, cfg.args()...),
		ExtraFiles:  []*os.File{theirs, lock}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting the rollback guard: %w", err)
	}
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	g := &rollbackGuard{conn: conn, replies: bufio.NewReader(conn), process: cmd.Process}
	go cmd.Wait() // reap it, whenever it ends
	word, text := g.read()
	switch word {
	case "ready":
		return g, nil
	case "error":
		conn.Close()
		return nil, errors.New(text)
	default:
		conn.Close()
		return nil, fmt.Errorf("the rollback guard ended before taking the snapshot")
	}
}

// read returns the guard's next message, or "" at its end.
func (g *rollbackGuard) read() (word, text string) {
	line, err := g.replies.ReadString('\n')
	if err != nil {
		return "", ""
	}
	word, text, _ = strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	return word, text
}

func (g *rollbackGuard) tell(msg string) { fmt.Fprintln(g.conn, msg) }

// notApplied lets the guard go: the kernel refused the batch, so there is
// nothing to roll back. Safe on a nil guard.
func (g *rollbackGuard) notApplied() {
	if g != nil {
		g.tell("not-applied")
		g.conn.Close()
	}
}

// awaitConfirmation reports what the guard decides: it keeps the new
// ruleset when confirmed in time, and restores the previous one otherwise.
// Hanging up (a lost SSH session) is ignored; Ctrl-C rolls back at once;
// Enter confirms only at a terminal, and only after the prompt.
func awaitConfirmation(e env, g *rollbackGuard, timeout time.Duration, netns string) int {
	defer g.conn.Close()
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	g.tell("applied")
	if word, text := g.read(); word != "waiting" {
		return g.outcome(e, word, text)
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
				g.tell("confirm")
			}
		}()
		fmt.Fprintf(e.stderr, "ksc apply: applied. Press Enter here, or run %q, within %s to keep it; otherwise the previous ruleset comes back.\n", confirmCmd, timeout)
	} else {
		fmt.Fprintf(e.stderr, "ksc apply: applied. Run %q within %s to keep it; otherwise the previous ruleset comes back.\n", confirmCmd, timeout)
	}
	go func() {
		if _, ok := <-signals; ok {
			g.tell("rollback")
		}
	}()
	word, text := g.read()
	return g.outcome(e, word, text)
}

// outcome reports the guard's notes and last word, starting with word.
func (g *rollbackGuard) outcome(e env, word, text string) int {
	for ; word == "note"; word, text = g.read() {
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

// runGuard is the guard process.
func runGuard(e env, args []string) int {
	flags := newFlags(e, guardCommand)
	var cfg guardConfig
	var replaces []string
	flags.StringVar(&cfg.nsPath, "netns-path", "", "")
	flags.StringVar(&cfg.netns, "netns", "", "")
	flags.DurationVar(&cfg.timeout, "timeout", 0, "")
	flags.StringArrayVar(&replaces, "replaces", nil, "")
	flags.BoolVar(&cfg.flushRuleset, "flush-ruleset", false, "")
	flags.StringVar(&cfg.socket, "socket", "", "")
	flags.StringVar(&cfg.outcome, "outcome", "", "")
	if code := parseFlags(e, flags, guardUsage, args); code >= 0 {
		return code
	}
	apply, err := net.FileConn(os.NewFile(3, "apply"))
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc %s: run by ksc apply --confirm only: %v\n", guardCommand, err)
		return exitUsage
	}
	// fd 4 is the apply lock: holding it open keeps other applies out
	// until the guard is done.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	for _, r := range replaces {
		ref, err := kernel.ParseTableRef(r)
		if err != nil {
			fmt.Fprintf(apply, "error %v\n", err)
			return exitUsage
		}
		cfg.replaces = append(cfg.replaces, ref)
	}
	snapshot, err := kernel.TakeSnapshot(cfg.nsPath, cfg.replaces, cfg.flushRuleset)
	if err != nil {
		fmt.Fprintf(apply, "error %v\n", err)
		return exitFailure
	}
	defer snapshot.Close()
	// The flows there before the apply are those a rollback keeps: it
	// cannot judge one that started later by a ruleset other programs may
	// have written, and closes it. (If conntrack cannot be read now, the
	// rollback will find it the same and close nothing.)
	before, _ := flows.IDs(cfg.nsPath)
	w := &guard{cfg: cfg, snapshot: snapshot, apply: apply, flowsBefore: before, applyPidfd: -1}
	// What was meant to be in force before the apply is again after a
	// rollback, for ksc watch too.
	if w.intentPath, err = intentPath(cfg.netns); err == nil {
		var readErr error
		w.intentBefore, readErr = os.ReadFile(w.intentPath)
		w.intentExisted = readErr == nil
	}
	// The apply is this process's parent: a pidfd names it for as long
	// as the guard runs, even after it exits and its pid is reused.
	if fd, err := unix.PidfdOpen(os.Getppid(), 0); err == nil {
		w.applyPidfd = fd
		defer unix.Close(fd)
	}
	return w.run()
}

const guardUsage = `Usage: ksc ` + guardCommand + ` ...

Internal: the rollback guard that "ksc apply --confirm" starts. Not for
use by hand.
`

// guard is the waiting half of a --confirm.
type guard struct {
	cfg      guardConfig
	snapshot *kernel.Snapshot
	apply    net.Conn // writes fail, unheard, once the apply is gone
	listener net.Listener
	// flowsBefore are the conntrack ids of the flows before the apply.
	flowsBefore map[uint32]bool
	// applyPidfd names the apply's process (-1 when it cannot).
	applyPidfd int
	// The intent file, and what it held before the apply.
	intentPath    string
	intentBefore  []byte
	intentExisted bool
}

// stopListening makes "ksc confirm" find nothing waiting from now on.
func (w *guard) stopListening() {
	if w.listener != nil {
		os.Remove(w.cfg.socket)
		w.listener.Close()
	}
}

func (w *guard) run() int {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGQUIT)
	// The deadline runs from before the apply: an apply stopped at the
	// terminal (Ctrl-Z) or slow to close connections does not move it.
	deadline := time.Now().Add(w.cfg.timeout)
	timer := time.NewTimer(w.cfg.timeout)
	fmt.Fprintln(w.apply, "ready")

	fromApply := messages(w.apply)
	// Until the apply says whether the batch went in, the guard assumes
	// it did: an apply killed mid-way is rolled back, never kept.
	select {
	case msg := <-fromApply:
		if msg == "not-applied" {
			return exitOK
		}
	case <-timer.C:
		// The apply never said it was done: it must not carry on and
		// change the ruleset after the rollback.
		w.stopApply()
		return w.rollBack("not confirmed within " + w.cfg.timeout.String() + " (the apply had not finished)")
	case sig := <-signals:
		w.stopApply()
		return w.rollBack("stopped by " + unix.SignalName(sig.(syscall.Signal)))
	}
	// Listening only now, "ksc confirm" cannot confirm a ruleset that is
	// not in place yet.
	listener, err := w.listen()
	if err != nil {
		return w.rollBack(fmt.Sprintf("cannot wait for \"ksc confirm\" (%v)", err))
	}
	w.listener = listener
	defer w.stopListening()
	// Written first, so that "ksc confirm" never tells an earlier apply's
	// last word while this one waits, nor after this guard was killed.
	writeOutcome(w.cfg.outcome, fmt.Sprintf("%s %s until %s (rollback guard, pid %d)\n",
		time.Now().Format(time.DateTime), outcomeWaiting, deadline.Format(time.DateTime), os.Getpid()))
	w.say("waiting", "")
	confirms := accept(listener)
	for {
		select {
		case msg, ok := <-fromApply:
			switch {
			case !ok:
				fromApply = nil // the apply is gone; the guard stays
			case msg == "confirm":
				return w.confirm(nil)
			case msg == "rollback":
				return w.rollBack("interrupted")
			}
		case conn := <-confirms:
			return w.confirm(conn)
		case sig := <-signals:
			return w.rollBack("stopped by " + unix.SignalName(sig.(syscall.Signal)))
		case <-timer.C:
			return w.rollBack("not confirmed within " + w.cfg.timeout.String())
		}
	}
}

// The outcome file's words for a guard that has not decided yet.
const (
	outcomeWaiting     = `waiting for "ksc confirm"`
	outcomeRollingBack = "rolling back"
)

// stopApply kills the apply, which may be stopped at its terminal.
func (w *guard) stopApply() {
	if w.applyPidfd >= 0 {
		unix.PidfdSendSignal(w.applyPidfd, unix.SIGKILL, nil, 0)
	}
}

// listen opens the socket "ksc confirm" connects to, for root only. The
// apply lock guarantees no other guard of this namespace is alive, so a
// socket file left there is stale.
func (w *guard) listen() (net.Listener, error) {
	os.Remove(w.cfg.socket)
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	// Made under another name and renamed into place once listening, the
	// socket is never there to be refused: between bind and listen a
	// "ksc confirm" would find nothing waiting.
	tmp := w.cfg.socket + ".new"
	os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Rename(tmp, w.cfg.socket); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	return l, nil
}

// messages delivers what the apply says, a line at a time, and closes at its end.
func messages(conn net.Conn) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		r := bufio.NewScanner(conn)
		for r.Scan() {
			ch <- r.Text()
		}
	}()
	return ch
}

// accept delivers each connection that asks to confirm.
func accept(l net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(conn).ReadString('\n')
			if strings.TrimSpace(line) != "confirm" {
				conn.Close()
				continue
			}
			ch <- conn
		}
	}()
	return ch
}

func (w *guard) confirm(from net.Conn) int {
	w.finish(from, "confirmed", "confirmed: keeping the new ruleset")
	return exitOK
}

func (w *guard) rollBack(why string) int {
	writeOutcome(w.cfg.outcome, fmt.Sprintf("%s %s (%s) (rollback guard, pid %d)\n",
		time.Now().Format(time.DateTime), outcomeRollingBack, why, os.Getpid()))
	w.stopListening()
	var report kernel.RollbackReport
	var flowReport flows.Report
	release, err := lockChanges(w.cfg.netns)
	if err == nil {
		if w.intentPath != "" {
			putIntent(w.intentPath, w.intentBefore, w.intentExisted)
		}
		flowReport, err = flows.Transition(w.cfg.nsPath, flows.Among(w.flowsBefore), func() (err error) {
			report, err = w.snapshot.Rollback()
			return err
		})
		release()
	}
	if err != nil {
		w.finish(nil, "failed", fmt.Sprintf("%s, and restoring the previous ruleset FAILED: %v", why, err))
		return exitFailure
	}
	for _, r := range report.Kept {
		w.say("note", fmt.Sprintf("kept table %s: another program added it while waiting", r))
	}
	for _, r := range report.Replaced {
		w.say("note", fmt.Sprintf("table %s was re-created by another program while waiting; it is back as it was before the apply", r))
	}
	for _, r := range report.Skipped {
		w.say("note", fmt.Sprintf("left table %s alone: another program owns it now", r))
	}
	if n := len(flowReport.Closed); n > 0 {
		w.say("note", fmt.Sprintf("closed %d connections that started while waiting", n))
	}
	if flowReport.Unguarded != nil {
		w.say("note", fmt.Sprintf("connections could not be held through the rollback (%v)", flowReport.Unguarded))
	}
	if flowReport.Err != nil {
		w.say("note", fmt.Sprintf("connections that started while waiting may go on: %v", flowReport.Err))
	}
	w.finish(nil, "restored", why+": restored the previous ruleset")
	return exitFailure
}

// say tells the apply, if it is still there.
func (w *guard) say(word, text string) {
	fmt.Fprintf(w.apply, "%s %s\n", word, text)
}

// finish gives the last word: to the apply, to "ksc confirm" when it asked,
// to the outcome file and to syslog, since nobody may be left to hear it.
func (w *guard) finish(to net.Conn, word, text string) {
	w.stopListening()
	w.say(word, text)
	if to != nil {
		fmt.Fprintf(to, "%s %s\n", word, text)
		to.Close()
	}
	when := time.Now().Format(time.DateTime)
	writeOutcome(w.cfg.outcome, when+" "+text+"\n")
	if log, err := syslog.New(syslog.LOG_WARNING|syslog.LOG_DAEMON, "ksc"); err == nil {
		log.Warning("apply --confirm: " + text)
		log.Close()
	}
}

// writeOutcome replaces the outcome file through a temporary file (0600,
// as os.CreateTemp makes it) and a rename: "ksc confirm" reading it while
// os.WriteFile had truncated it printed an empty last word.
func writeOutcome(path, text string) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(text)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

const confirmUsage = `Usage: ksc confirm [--netns NAME]

Confirm a "ksc apply --confirm" that is waiting, so that it keeps the new
ruleset instead of rolling back. It works even when the apply that started
it was killed or lost its terminal: the rollback guard it started is what
waits. With nothing waiting, it says what the last one decided.
`

func runConfirm(e env, args []string) int {
	flags := newFlags(e, "confirm")
	netns := flags.String("netns", "", "the namespace the waiting apply was given")
	if code := parseFlags(e, flags, confirmUsage, args); code >= 0 {
		return code
	}
	socket, outcome, err := guardFiles(*netns)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc confirm: %v\n", err)
		return exitFailure
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Fprintln(e.stderr, "ksc confirm: no ksc apply --confirm is waiting")
		last, err := os.ReadFile(outcome)
		switch {
		case err != nil:
		case bytes.Contains(last, []byte(outcomeWaiting)):
			// Its socket is gone, yet it never said what it decided.
			fmt.Fprintf(e.stderr, "ksc confirm: the last one was %s, and its rollback guard is gone without a word (killed?): nothing was rolled back, and the ruleset it applied is in force, unconfirmed\n", bytes.TrimSpace(last))
		case bytes.Contains(last, []byte(outcomeRollingBack)):
			fmt.Fprintf(e.stderr, "ksc confirm: the last one is %s; if that does not change, its guard died during the rollback: check the ruleset\n", bytes.TrimSpace(last))
		default:
			fmt.Fprintf(e.stderr, "ksc confirm: the last one: %s", last)
		}
		return exitFailure
	}
	defer conn.Close()
	fmt.Fprintln(conn, "confirm")
	line, err := bufio.NewReader(conn).ReadString('\n')
	word, text, _ := strings.Cut(strings.TrimSpace(line), " ")
	if err != nil || word != "confirmed" {
		// It decided before it heard us: say what it decided.
		last, _ := os.ReadFile(outcome)
		fmt.Fprintf(e.stderr, "ksc confirm: too late: %s", last)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "ksc confirm: %s\n", text)
	return exitOK
}
