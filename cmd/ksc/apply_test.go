package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/backends/sysctl"

	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const server = "../../examples/server-ssh-https.ks"

// useRunDir points the lock, confirmation and state files at fresh
// directories.
func useRunDir(t *testing.T) {
	oldRun, oldState := enforce.RunDir, sysctl.StateDir
	enforce.RunDir, sysctl.StateDir = settlingTempDir(t), settlingTempDir(t)
	t.Cleanup(func() { enforce.RunDir, sysctl.StateDir = oldRun, oldState })
}

// settlingTempDir is a t.TempDir that a rollback guard, a process of its
// own, may still be leaving when the test ends: its removal is tried
// again until the guard is gone, where t.TempDir's once failed the test
// with "directory not empty".
func settlingTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ksc-run-")
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.Eventually(t, func() bool { return os.RemoveAll(dir) == nil }, 10*time.Second, 50*time.Millisecond, "removing %s", dir)
	})
	return dir
}

func TestApplyDryRunSendsNothing(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "dry")
	code, stdout, stderr := ksc("apply", server, "--netns", ns.Name, "--dry-run")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "add table inet server\ndelete table inet server\nadd table inet server\n")
	assert.Contains(t, stdout, "add rule inet server INPUT tcp dport 443 accept  # ../../examples/server-ssh-https.ks:"+golden.Where(t, "examples/server-ssh-https.ks", "tcp dport $WEB_PORTS accept"))
	assert.Equal(t, "", ns.Exec(t, "nft", "list", "ruleset"))
}

func TestApplyDiffStatusRemove(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "cli")

	code, stdout, _ := ksc("diff", server, "--netns", ns.Name)
	assert.Equal(t, 1, code, "diff against an empty ruleset must report changes")
	assert.Contains(t, stdout, "+ table inet server\n")

	code, _, stderr := ksc("apply", server, "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, ns.Exec(t, "nft", "list", "ruleset"), "tcp dport 443 accept")

	code, stdout, stderr = ksc("diff", server, "--netns", ns.Name)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Empty(t, stdout)
	code, stdout, _ = ksc("diff", server, "--netns", ns.Name, "-e", "http")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "+     tcp dport 80 accept  # ../../examples/server-ssh-https.ks:"+golden.Where(t, "examples/server-ssh-https.ks", "tcp dport 80 accept")+"\n")

	code, stdout, _ = ksc("status", server, "--netns", ns.Name)
	assert.Equal(t, 0, code, stdout)
	assert.Contains(t, stdout, "all 10 rules are loaded, and nothing else is in the policy's tables")
	assert.Regexp(t, `server-ssh-https.ks:`+golden.Where(t, "examples/server-ssh-https.ks", "tcp dport $WEB_PORTS accept")+` +INPUT +- +- +tcp dport 443 accept\n`, stdout)
	assert.Regexp(t, `server-ssh-https.ks:`+golden.Where(t, "examples/server-ssh-https.ks", "counter log prefix")+` +INPUT +0 +0 +counter log prefix`, stdout)
	code, stdout, _ = ksc("status", server, "--netns", ns.Name, "-e", "open-ssh")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "missing")

	code, _, stderr = ksc("remove", server, "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "", ns.Exec(t, "nft", "list", "ruleset"))
}

func TestApplyToMissingNamespaceChangesNothing(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "missing")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)))
	before := ns.Exec(t, "nft", "list", "ruleset")
	code, _, stderr := ksc("apply", server, "--netns", "ksc-no-such-namespace")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "network namespace /var/run/netns/ksc-no-such-namespace")
	assert.Equal(t, before, ns.Exec(t, "nft", "list", "ruleset"))
}

// A kernel refusal is shown at the policy line that produced the rule.
func TestApplyErrorIsShownAtThePolicyLine(t *testing.T) {
	pf := policyFlags{sources: map[string][]byte{"p.ks": []byte("table t {\n\tchain c hook input {\n\t\ttcp dport 22 accept\n")}}
	var stderr strings.Builder
	pf.reportApplyError(env{stderr: &stderr}, &kernel.ApplyError{
		Pos: ir.Pos{File: "p.ks", Line: 3, Col: 3}, What: `rule "tcp dport 22 accept"`, Err: errors.New("operation not supported")})
	assert.Equal(t, "p.ks:3:3: the kernel refused rule \"tcp dport 22 accept\": operation not supported\n"+
		"    3 | \t\ttcp dport 22 accept\n"+
		"      | \t\t^\n", stderr.String())
}

// Without confirmation, --confirm restores the previous ruleset; with it
// (from "ksc confirm" or Enter) the new one stays.
func TestApplyConfirm(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "confirm")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)))
	before := ns.Exec(t, "nft", "list", "ruleset")
	killswitch := "../../examples/ivpn-killswitch.ks"

	code, _, stderr := ksc("apply", killswitch, "--netns", ns.Name, "--confirm", "500ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not confirmed within 500ms: restored the previous ruleset")
	assert.Equal(t, before, ns.Exec(t, "nft", "list", "ruleset"))

	done := make(chan int, 1)
	go func() { done <- first(ksc("apply", killswitch, "--netns", ns.Name, "--confirm", "20s")) }()
	awaitGuard(t, ns.Name)
	code, _, stderr = ksc("confirm", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 0, <-done)
	assert.Contains(t, ns.Exec(t, "nft", "list", "ruleset"), "table inet killswitch")

	// What another program adds while the apply waits survives the
	// rollback, and the rollback says so.
	kept := ns.Exec(t, "nft", "list", "ruleset")
	done = make(chan int, 1)
	var waited string
	go func() {
		var code int
		code, _, waited = ksc("apply", killswitch, "--netns", ns.Name, "--confirm", "1s")
		done <- code
	}()
	awaitGuard(t, ns.Name)
	ns.Exec(t, "nft", "add", "table", "ip", "docker")
	assert.Equal(t, 1, <-done)
	assert.Contains(t, waited, "ksc apply: kept table ip docker: another program added it while waiting\n")
	assert.Contains(t, waited, "not confirmed within 1s: restored the previous ruleset")
	assert.Contains(t, ns.Exec(t, "nft", "list", "tables"), "table ip docker")
	ns.Exec(t, "nft", "delete", "table", "ip", "docker")
	assert.Equal(t, kept, ns.Exec(t, "nft", "list", "ruleset"))

	// A newline from a pipe (echo | ksc apply) confirms nothing.
	var stdout, errOut strings.Builder
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	pw.WriteString("\n")
	code = run([]string{"apply", killswitch, "--netns", ns.Name, "--confirm", "500ms"}, pr, &stdout, &errOut)
	pr.Close()
	pw.Close()
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "not confirmed within 500ms: restored the previous ruleset")

	// At a terminal, Enter pressed after the prompt confirms; one typed
	// before it does not.
	master, tty := openPTY(t)
	master.WriteString("\n")
	time.Sleep(100 * time.Millisecond) // let the early newline reach the terminal's queue
	errOut.Reset()
	done = make(chan int, 1)
	go func() {
		done <- run([]string{"apply", server, "--netns", ns.Name, "--confirm", "20s"}, tty, &stdout, &errOut)
	}()
	awaitGuard(t, ns.Name)
	time.Sleep(300 * time.Millisecond)
	select {
	case code := <-done:
		t.Fatalf("a newline typed before the prompt confirmed (exit %d): %s", code, errOut.String())
	default:
	}
	master.WriteString("\n")
	assert.Equal(t, 0, <-done, errOut.String())
	assert.Contains(t, errOut.String(), "confirmed: keeping the new ruleset")

	code, _, stderr = ksc("confirm", "--netns", ns.Name)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no ksc apply --confirm is waiting")
}

// Killing "ksc apply --confirm" by any signal does not keep the new
// ruleset: its rollback guard restores at the deadline, and "ksc confirm"
// still reaches the guard after the kill.
func TestConfirmOutlivesTheApply(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "killed")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)))
	before := ns.Exec(t, "nft", "list", "ruleset")
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		signal  syscall.Signal
		confirm bool
	}{
		{"SIGKILL rolls back at the deadline", syscall.SIGKILL, false},
		{"SIGQUIT rolls back at the deadline", syscall.SIGQUIT, false},
		{"ksc confirm after a SIGKILL keeps the new ruleset", syscall.SIGKILL, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply := exec.Command(exe, "apply", "../../examples/ivpn-killswitch.ks", "--netns", ns.Name, "--confirm", "2s")
			apply.Args[0] = "ksc" // the test binary runs as ksc
			apply.Env = append(os.Environ(), "KSC_TEST_RUN_DIR="+enforce.RunDir)
			require.NoError(t, apply.Start())
			awaitGuard(t, ns.Name)
			killed := time.Now()
			require.NoError(t, apply.Process.Signal(tc.signal))
			apply.Wait()
			require.Contains(t, ns.Exec(t, "nft", "list", "ruleset"), "table inet killswitch", "applied until the deadline")
			if tc.confirm {
				code, _, stderr := ksc("confirm", "--netns", ns.Name)
				require.Equal(t, 0, code, stderr)
				time.Sleep(2500 * time.Millisecond)
				assert.Contains(t, ns.Exec(t, "nft", "list", "ruleset"), "table inet killswitch", "a confirmed ruleset stays")
				require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)), "the guard must let go of the lock")
				return
			}
			require.Eventually(t, func() bool { return ns.Exec(t, "nft", "list", "ruleset") == before },
				10*time.Second, 50*time.Millisecond, "the previous ruleset never came back")
			assert.GreaterOrEqual(t, time.Since(killed), 1500*time.Millisecond, "rolled back long before the deadline")
			// The guard writes its last word just after the restore.
			var code int
			var stderr string
			require.Eventually(t, func() bool {
				code, _, stderr = ksc("confirm", "--netns", ns.Name)
				return strings.Contains(stderr, "the last one: ")
			}, 5*time.Second, 50*time.Millisecond, "the guard left no last word")
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, "no ksc apply --confirm is waiting\n")
			assert.Contains(t, stderr, " not confirmed within 2s: restored the previous ruleset\n")
		})
	}

	// A socket left behind by a guard that died confirms nothing, and
	// signals nobody.
	socket, err := enforce.Namespace(ns.Name).GuardSocket()
	require.NoError(t, err)
	l, err := net.Listen("unix", socket)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	code, _, stderr := ksc("confirm", "--netns", ns.Name)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no ksc apply --confirm is waiting")
}

// An apply stopped at its terminal (Ctrl-Z) does not stop the clock: at
// the deadline the guard kills it, so that it cannot change the ruleset
// afterwards, rolls back, and lets go of the lock.
func TestConfirmDeadlineHoldsWhenTheApplyStops(t *testing.T) {
	// Stopped as soon as its guard is there (mostly before the ruleset is
	// in), and stopped once the guard waits for "ksc confirm": either
	// way the deadline rolls back, and the stopped apply, which shares
	// the apply lock, is killed so that the next apply can run.
	for _, when := range []string{"guard started", "waiting for confirm"} {
		t.Run(when, func(t *testing.T) { confirmDeadlineWithApplyStopped(t, when == "waiting for confirm") })
	}
}

func confirmDeadlineWithApplyStopped(t *testing.T, waiting bool) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "stopped")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)))
	before := ns.Exec(t, "nft", "list", "ruleset")
	exe, err := os.Executable()
	require.NoError(t, err)
	apply := exec.Command(exe, "apply", "../../examples/ivpn-killswitch.ks", "--netns", ns.Name, "--confirm", "1s")
	apply.Args[0] = "ksc"
	apply.Env = append(os.Environ(), "KSC_TEST_RUN_DIR="+enforce.RunDir)
	require.NoError(t, apply.Start())
	require.Eventually(t, func() bool { return guardOf(ns.Name) != 0 }, 10*time.Second, 5*time.Millisecond, "no rollback guard started")
	if waiting {
		socket, err := enforce.Namespace(ns.Name).GuardSocket()
		require.NoError(t, err)
		require.Eventually(t, func() bool { _, err := os.Stat(socket); return err == nil }, 10*time.Second, 2*time.Millisecond, "the guard never waited for ksc confirm")
	}
	require.NoError(t, apply.Process.Signal(syscall.SIGSTOP))
	started := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- apply.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		apply.Process.Kill()
		t.Fatal("the stopped apply was still there 10 s after its 1 s deadline")
	}
	assert.Less(t, time.Since(started), 5*time.Second)
	require.Eventually(t, func() bool { return ns.Exec(t, "nft", "list", "ruleset") == before },
		5*time.Second, 50*time.Millisecond, "the previous ruleset never came back")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name, "--wait", "5s")), "the lock must be free")
}

// When the guard itself is killed, "ksc confirm" says so, and never tells
// an earlier apply's last word ("restored") while the rules it guarded
// are in force.
func TestConfirmSaysWhenTheGuardDied(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "guarddied")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)))
	code, _, stderr := ksc("apply", "../../examples/ivpn-killswitch.ks", "--netns", ns.Name, "--confirm", "300ms")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "restored the previous ruleset")

	done := make(chan int, 1)
	go func() {
		done <- first(ksc("apply", "../../examples/ivpn-killswitch.ks", "--netns", ns.Name, "--confirm", "20s"))
	}()
	awaitGuard(t, ns.Name)
	require.NoError(t, syscall.Kill(guardOf(ns.Name), syscall.SIGKILL))
	<-done
	code, _, stderr = ksc("confirm", "--netns", ns.Name)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "its rollback guard is gone without a word (killed?): nothing was rolled back")
	assert.NotContains(t, stderr, "restored the previous ruleset")
	assert.Contains(t, ns.Exec(t, "nft", "list", "ruleset"), "table inet killswitch")
}

// guardOf is the pid of the rollback guard of netns, or 0.
func guardOf(netns string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && args[1] == enforce.GuardCommand && slices.Contains(args, netns) {
			pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
			return pid
		}
	}
	return 0
}

// awaitGuard waits until an apply --confirm on netns is waiting for
// confirmation.
func awaitGuard(t *testing.T, netns string) {
	t.Helper()
	socket, err := enforce.Namespace(netns).GuardSocket()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := os.Stat(socket)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the apply never waited for confirmation")
}

// A second apply waits for the first, and fails clearly when it cannot.
func TestApplyTakesTurns(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "lock")
	// Held by path, the lock holds for the namespace by name too.
	lock, err := enforce.Namespace(nsenter.Path(ns.Name)).LockApply(0)
	require.NoError(t, err)
	code, _, stderr := ksc("apply", server, "--netns", ns.Name, "--wait", "200ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "another ksc apply is running on this namespace (pid "+strconv.Itoa(os.Getpid())+", lock "+enforce.RunDir+"/apply-")
	assert.Equal(t, "", ns.Exec(t, "nft", "list", "ruleset"), "an apply that could not lock must change nothing")

	// Another namespace does not wait.
	other := labtest.NewNS(t, "lock2")
	code, _, stderr = ksc("apply", server, "--netns", other.Name, "--wait", "0s")
	assert.Equal(t, 0, code, stderr)

	go func() { time.Sleep(300 * time.Millisecond); lock.Close() }()
	code, _, stderr = ksc("apply", server, "--netns", ns.Name, "--wait", "10s")
	assert.Equal(t, 0, code, stderr)
}

func first(code int, _, _ string) int { return code }

func TestApplyIptablesBackend(t *testing.T) {
	labtest.Require(t, "iptables-legacy-restore", "iptables-nft-restore")
	useRunDir(t)
	for _, mode := range []string{"legacy", "nft"} {
		ns := labtest.NewNS(t, "iptcli")
		code, _, stderr := ksc("apply", "../../examples/ivpn-iptables.ks", "--backend", "iptables", "--iptables-mode", mode, "--netns", ns.Name)
		require.Equal(t, 0, code, stderr)
		saved := ns.Exec(t, "iptables-"+mode+"-save", "-t", "filter")
		assert.Contains(t, saved, "-A OUTPUT -d 141.255.166.194/32 -o eth0 -j ACCEPT", mode)
		assert.Contains(t, ns.Exec(t, "ip6tables-"+mode+"-save", "-t", "filter"), ":OUTPUT DROP", mode)
	}
	ns := labtest.NewNS(t, "iptstatus")
	ivpn := "../../examples/ivpn-iptables.ks"
	code, stdout, _ := ksc("status", ivpn, "--backend", "iptables", "--iptables-mode", "legacy", "--netns", ns.Name)
	assert.Equal(t, 1, code, stdout)
	require.Equal(t, 0, first(ksc("apply", ivpn, "--backend", "iptables", "--iptables-mode", "legacy", "--netns", ns.Name)))
	code, stdout, _ = ksc("status", ivpn, "--backend", "iptables", "--iptables-mode", "legacy", "--netns", ns.Name)
	assert.Equal(t, 0, code, stdout)
	assert.Contains(t, stdout, "hold exactly the policy's rules")
	code, _, stderr := ksc("remove", ivpn, "--backend", "iptables", "--iptables-mode", "legacy", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, ns.Exec(t, "iptables-legacy-save"), "-A ")

}

func TestSSHLockoutGuard(t *testing.T) {
	src, err := os.ReadFile("../../examples/ivpn-killswitch.ks")
	require.NoError(t, err)
	p, ds := lang.Load("ivpn-killswitch.ks", src, lang.Config{})
	require.False(t, ds.HasErrors())
	d := sshLockout(p, "", false, true)
	require.NotNil(t, d)
	assert.Equal(t, "ivpn-killswitch.ks:51:2: you are connected over SSH, and this chain drops new SSH connections", d.Error())
	assert.Nil(t, sshLockout(p, "", true, true), "--confirm or --force is a way back")
	assert.Nil(t, sshLockout(p, "", false, false), "not over SSH")
	assert.Nil(t, sshLockout(p, "try", false, true), "a namespace is never remote")
	withSSH, ds := lang.Load("ivpn-killswitch.ks", src, lang.Config{Enable: []string{"ssh"}})
	require.False(t, ds.HasErrors())
	assert.Nil(t, sshLockout(withSSH, "", false, true), "-e ssh lets SSH in")
}

// openPTY opens a pseudo-terminal: its master, to type into, and the
// terminal side, to give ksc as standard input.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}
