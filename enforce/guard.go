package enforce

import (
	"bufio"
	"bytes"
	"encoding/json"
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

	"github.com/ksc-project/ksc/backends"
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
//	apply → guard: "intent JSON", the policy applied
//	guard → apply: "ready", or "error TEXT"
//	apply → guard: "applied", "not-applied", "confirm" (Enter), "rollback" (Ctrl-C)
//	guard → apply: "waiting" once "ksc confirm" can reach it, then
//	               "note TEXT"..., then "confirmed TEXT", "restored TEXT" or "failed TEXT"
//
// "ksc confirm" reaches the guard through a unix socket in RunDir named
// after the namespace's identity. A socket cannot be recycled the way a
// pid can: when the guard is gone, connecting fails.

// GuardCommand is the hidden command the guard runs as: "ksc
// _rollback-guard ARGS", ARGS as GuardArgs reads them.
const GuardCommand = "_rollback-guard"

// guardConfig is what the guard needs to know; it travels as arguments.
type guardConfig struct {
	netns   Namespace
	timeout time.Duration
	socket  string // where "ksc confirm" finds the guard
	outcome string // where the guard leaves its last word
}

func (c guardConfig) args() []string {
	return []string{GuardCommand, "--netns", string(c.netns), "--timeout", c.timeout.String(),
		"--socket", c.socket, "--outcome", c.outcome}
}

// GuardArgs reads the guard's arguments (see guardConfig.args): each
// flag is one argument followed by its value.
func GuardArgs(args []string) (guardConfig, error) {
	var c guardConfig
	for i := 0; i+1 < len(args); i += 2 {
		switch v := args[i+1]; args[i] {
		case "--netns":
			c.netns = Namespace(v)
		case "--timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, err
			}
			c.timeout = d
		case "--socket":
			c.socket = v
		case "--outcome":
			c.outcome = v
		default:
			return c, fmt.Errorf("unknown argument %q", args[i])
		}
	}
	if c.timeout <= 0 || c.socket == "" || c.outcome == "" || len(args)%2 != 0 {
		return c, errors.New("run by ksc apply --confirm only")
	}
	return c, nil
}

// A Guard is the apply's end of the conversation with its rollback guard.
type Guard struct {
	conn    net.Conn
	replies *bufio.Reader
}

// GuardSocket is where the namespace's rollback guard listens while it
// waits for "ksc confirm".
func (n Namespace) GuardSocket() (string, error) {
	socket, _, err := n.guardFiles()
	return socket, err
}

// guardFiles names the socket and the outcome file of the namespace's
// guard.
func (n Namespace) guardFiles() (socket, outcome string, err error) {
	base, err := n.file("confirm")
	return base + ".sock", base + ".outcome", err
}

// StartGuard starts the guard of an apply of in's policy, which rolls it
// back unless confirmed within timeout, and waits until it holds a
// snapshot it has proved it can restore. The guard shares lock, the apply
// lock.
func (n Namespace) StartGuard(in Intent, timeout time.Duration, lock *os.File) (*Guard, error) {
	cfg := guardConfig{netns: n, timeout: timeout}
	var err error
	if cfg.socket, cfg.outcome, err = n.guardFiles(); err != nil {
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
		Env:         append(os.Environ(), runDirEnv+"="+RunDir),
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
	g := &Guard{conn: conn, replies: bufio.NewReader(conn)}
	go cmd.Wait() // reap it, whenever it ends
	data, err := json.Marshal(in)
	if err != nil {
		conn.Close()
		return nil, err
	}
	g.Tell("intent " + string(data))
	word, text := g.Read()
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

// runDirEnv carries RunDir to the guard process.
const runDirEnv = "KSC_RUN_DIR"

// Read returns the guard's next message, or "" at its end.
func (g *Guard) Read() (word, text string) {
	line, err := g.replies.ReadString('\n')
	if err != nil {
		return "", ""
	}
	word, text, _ = strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	return word, text
}

// Tell sends the guard a message: "applied", "confirm" or "rollback".
func (g *Guard) Tell(msg string) { fmt.Fprintln(g.conn, msg) }

// Close ends the conversation; the guard goes on.
func (g *Guard) Close() { g.conn.Close() }

// NotApplied lets the guard go: the backend refused the change, so there
// is nothing to roll back. Safe on a nil guard.
func (g *Guard) NotApplied() {
	if g != nil {
		g.Tell("not-applied")
		g.conn.Close()
	}
}

// RunGuard is the guard process: its arguments are GuardArgs', fd 3 is
// its socket to the apply and fd 4 the apply lock, which it holds until
// it is done. It returns the process's exit status.
func RunGuard(args []string) int {
	if dir := os.Getenv(runDirEnv); dir != "" {
		RunDir = dir
	}
	cfg, err := GuardArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ksc %s: %v\n", GuardCommand, err)
		return 2
	}
	apply, err := net.FileConn(os.NewFile(3, "apply"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "ksc %s: run by ksc apply --confirm only: %v\n", GuardCommand, err)
		return 2
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	fromApply := messages(apply)
	first := <-fromApply
	word, data, _ := strings.Cut(first, " ")
	var in Intent
	if word != "intent" || json.Unmarshal([]byte(data), &in) != nil {
		fmt.Fprintln(apply, "error the apply did not say what it applies")
		return 2
	}
	snapshot, err := takeSnapshot(cfg.netns, in)
	if err != nil {
		fmt.Fprintf(apply, "error %v\n", err)
		return 1
	}
	defer snapshot.Close()
	// The flows there before the apply are those a rollback keeps: it
	// cannot judge one that started later by a ruleset other programs may
	// have written, and closes it. (If conntrack cannot be read now, the
	// rollback will find it the same and close nothing.)
	before, _ := flows.IDs(cfg.netns.Path())
	w := &guard{cfg: cfg, snapshot: snapshot, apply: apply, fromApply: fromApply, flowsBefore: before, applyPidfd: -1}
	// What was meant to be in force before the apply is again after a
	// rollback, for ksc watch too.
	if path, err := cfg.netns.intentPath(); err == nil {
		w.intentBefore = savedFile(path)
	}
	// The apply is this process's parent: a pidfd names it for as long
	// as the guard runs, even after it exits and its pid is reused.
	if fd, err := unix.PidfdOpen(os.Getppid(), 0); err == nil {
		w.applyPidfd = fd
		defer unix.Close(fd)
	}
	return w.run()
}

// takeSnapshot keeps, for a rollback, what applying in's policy replaces.
func takeSnapshot(n Namespace, in Intent) (backends.Snapshot, error) {
	p, err := in.Load()
	if err != nil {
		return nil, err
	}
	fw, err := backends.Open(in.Backend, n.Path(), backends.Options{})
	if err != nil {
		return nil, err
	}
	return fw.Snapshot(p)
}

// guard is the waiting half of a --confirm.
type guard struct {
	cfg       guardConfig
	snapshot  backends.Snapshot
	apply     net.Conn // writes fail, unheard, once the apply is gone
	fromApply <-chan string
	listener  net.Listener
	// flowsBefore are the conntrack ids of the flows before the apply.
	flowsBefore map[uint32]bool
	// applyPidfd names the apply's process (-1 when it cannot).
	applyPidfd int
	// intentBefore is the namespace's intent before the apply.
	intentBefore saved
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

	fromApply := w.fromApply
	// Until the apply says whether the batch went in, the guard assumes
	// it did: an apply killed mid-way is rolled back, never kept.
	select {
	case msg := <-fromApply:
		if msg == "not-applied" {
			return 0
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
			defer w.awaitApply(fromApply)
			return w.rollBack("stopped by " + unix.SignalName(sig.(syscall.Signal)))
		case <-timer.C:
			defer w.awaitApply(fromApply)
			return w.rollBack("not confirmed within " + w.cfg.timeout.String())
		}
	}
}

// applyGrace is how long the apply has, once the guard has rolled back,
// to take the outcome and go.
const applyGrace = 2 * time.Second

// awaitApply gives the apply, told the outcome, applyGrace to go, and
// kills it if it has not: stopped at its terminal (Ctrl-Z) it would hold
// the apply lock, which it shares with the guard, and no later apply of
// the namespace could run.
func (w *guard) awaitApply(fromApply <-chan string) {
	grace := time.After(applyGrace)
	for fromApply != nil {
		select {
		case _, ok := <-fromApply:
			if !ok {
				return
			}
		case <-grace:
			w.stopApply()
			return
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
	return 0
}

func (w *guard) rollBack(why string) int {
	writeOutcome(w.cfg.outcome, fmt.Sprintf("%s %s (%s) (rollback guard, pid %d)\n",
		time.Now().Format(time.DateTime), outcomeRollingBack, why, os.Getpid()))
	w.stopListening()
	var notes []string
	var flowReport flows.Report
	release, err := w.cfg.netns.lockChanges()
	if err == nil {
		w.intentBefore.putBack()
		flowReport, err = flows.Transition(w.cfg.netns.Path(), flows.Among(w.flowsBefore), func() (err error) {
			notes, err = w.snapshot.Rollback()
			return err
		})
		release()
	}
	if err != nil {
		w.finish(nil, "failed", fmt.Sprintf("%s, and restoring the previous ruleset FAILED: %v", why, err))
		return 1
	}
	for _, note := range notes {
		w.say("note", note)
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
	return 1
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

// Confirm confirms the namespace's waiting "ksc apply --confirm". When
// none waits, it says what the last one decided, or that its guard died.
func (n Namespace) Confirm() (confirmed bool, message string, err error) {
	socket, outcome, err := n.guardFiles()
	if err != nil {
		return false, "", err
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return false, "no ksc apply --confirm is waiting" + lastWord(outcome), nil
	}
	defer conn.Close()
	fmt.Fprintln(conn, "confirm")
	line, err := bufio.NewReader(conn).ReadString('\n')
	word, text, _ := strings.Cut(strings.TrimSpace(line), " ")
	if err != nil || word != "confirmed" {
		// It decided before it heard us, or died as it did.
		return false, "too late" + lastWord(outcome), nil
	}
	return true, text, nil
}

// lastWord says what the outcome file tells of the last guard: what it
// decided, or that it is gone without deciding.
func lastWord(outcome string) string {
	last, err := os.ReadFile(outcome)
	last = bytes.TrimSpace(last)
	switch {
	case err != nil:
		return ""
	case bytes.Contains(last, []byte(outcomeWaiting)):
		// It never said what it decided, and no longer listens.
		return fmt.Sprintf("\nthe last one was %s, and its rollback guard is gone without a word (killed?): nothing was rolled back, and the ruleset it applied is in force, unconfirmed", last)
	case bytes.Contains(last, []byte(outcomeRollingBack)):
		return fmt.Sprintf("\nthe last one is %s; if that does not change, its guard died during the rollback: check the ruleset", last)
	}
	return "\nthe last one: " + string(last)
}
