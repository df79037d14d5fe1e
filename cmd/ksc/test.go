package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

const testUsage = `Usage: ksc test POLICY [TESTS] [--kernel [--backend LOADER]]

Check a policy's promises: each line of TESTS (by default POLICY with
.kst for .ks) says what verdict a packet must get. ksc test answers each
by simulation, as ksc explain does: no root, nothing loaded. A failure
names the line of the test and the policy line that decided.

With --kernel, ksc test loads the policy into a throwaway pair of network
namespaces (root) and sends each packet for real: built byte for byte as
its line says, with its conntrack state made real (a flow put into
conntrack for established, an ICMP error about a flow for related), its
mark, and for what this machine sends, its owner. The namespaces are
joined to nothing else, and only documentation, link-local, unique-local,
multicast and broadcast addresses are sent to: set the policy's own
addresses with -D on a "with" line. A line the lab cannot make as a real
packet is an error, never a pass. A reject must answer as its rule says
(a TCP reset, or the ICMP error and code it names). For an ICMP error, a
broadcast or a reset, the kernel answers nothing, so reject and drop look
the same.

Exit status 0 when every expectation holds, 1 when one does not, 2 on
trouble (a test or the policy does not load, or a line cannot be sent).

TESTS:
` + sim.KSTSyntax + `

Flags:
  --kernel           send real packets instead of simulating (root)
  --backend LOADER   with --kernel, how to load the policy: netlink (what
                     ksc apply does; the default), nft (nft -f),
                     iptables-nft, iptables-legacy, or all of them

Examples:
  ksc test examples/ivpn-killswitch.ks
  ksc test policy.ks promises.kst
  sudo ksc test examples/strict-killswitch.ks --kernel --backend all
`

func runTest(e env, args []string) int {
	fs := newFlags(e, "test")
	inKernel := fs.Bool("kernel", false, "send real packets through the policy loaded in throwaway namespaces (root)")
	backend := fs.String("backend", "netlink", "with --kernel: "+strings.Join(backends.LoaderNames(), ", ")+" or all")
	oneOf(fs, "backend", append(backends.LoaderNames(), "all")...)
	if code := parseFlags(e, fs, testUsage, args); code >= 0 {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintln(e.stderr, "ksc test: want a policy and, optionally, its tests; see ksc test --help")
		return exitUsage
	}
	var chosen []backends.Loader
	for _, l := range backends.Loaders {
		if *backend == "all" || *backend == l.Name {
			chosen = append(chosen, l)
		}
	}
	if len(chosen) == 0 {
		fmt.Fprintf(e.stderr, "ksc test: --backend is %s or all, not %q\n", strings.Join(backends.LoaderNames(), ", "), *backend)
		return exitUsage
	}
	if fs.Changed("backend") && !*inKernel {
		fmt.Fprintln(e.stderr, "ksc test: --backend chooses how --kernel loads the policy; add --kernel")
		return exitUsage
	}
	if *inKernel && os.Geteuid() != 0 {
		fmt.Fprintln(e.stderr, "ksc test: --kernel needs root: it creates network namespaces (without --kernel, ksc test simulates)")
		return exitUsage
	}
	policy := fs.Arg(0)
	file := strings.TrimSuffix(policy, ".ks") + ".kst"
	if fs.NArg() == 2 {
		file = fs.Arg(1)
	}
	data, err := lang.ReadSource(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc test: %v\n", err)
		return exitUsage
	}
	blocks, err := sim.ParseTests(data)
	var te *sim.TestError
	if errors.As(err, &te) {
		d := ir.Diagnostic{Pos: ir.Pos{File: file, Line: te.Line, Col: te.Col}, Message: te.Msg, Hint: te.Hint}
		fmt.Fprint(e.stderr, d.Render(data))
		return exitUsage
	}
	t := tally{e: e, file: file}
	testDir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc test: %v\n", err)
		return exitUsage
	}
	ran := map[string]bool{}
	for _, b := range blocks {
		pf := policyFlags{enable: b.Enable, defines: b.Defines, quiet: true, cmd: "test", defineFilesIn: testDir}
		p := pf.load(e, policy)
		if p == nil {
			fmt.Fprintf(e.stderr, "%s:%d: the policy does not load with these settings\n", file, b.Line)
			return exitUsage
		}
		if !*inKernel {
			t.report(b.Simulate(p), "")
			continue
		}
		for _, ld := range chosen {
			name := ld.Name
			if err := ld.Compile(p); err != nil {
				if len(chosen) > 1 {
					// "all" is every loader that can express the policy.
					fmt.Fprintf(e.stderr, "%s: skipped %s, which cannot express the policy: %v\n", t.where(b.Line), name, err)
					continue
				}
				fmt.Fprintf(e.stderr, "%s: %s cannot express the policy: %v\n", t.where(b.Line), name, err)
				return exitUsage
			}
			if !t.inKernel(p, b, ld) {
				return exitUsage
			}
			ran[name] = true
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", t.passed, t.failed)
	if *inKernel {
		var names []string
		for _, ld := range chosen {
			if ran[ld.Name] {
				names = append(names, ld.Name)
			}
		}
		if len(names) == 0 {
			fmt.Fprintln(e.stderr, "ksc test: no loader can express the policy")
			return exitUsage
		}
		summary += " in the kernel (" + strings.Join(names, ", ") + ")"
	}
	fmt.Fprintln(e.stdout, summary)
	if t.failed > 0 {
		return exitFailure
	}
	return exitOK
}

// tally counts and reports expectations as they are checked.
type tally struct {
	e              env
	file           string
	passed, failed int
}

// where is a line of the tests, or the file for what precedes any "with".
func (t *tally) where(line int) string {
	if line == 0 {
		return t.file
	}
	return fmt.Sprintf("%s:%d", t.file, line)
}

// report counts the checked expectations and prints each broken one.
func (t *tally) report(checked []sim.Checked, how string) {
	for _, c := range checked {
		switch {
		case c.Kept():
			t.passed++
			continue
		case c.Answer != "":
			fmt.Fprintf(t.e.stdout, "%s:%d: %s: expected %s %s, the kernel answered %s (%s)\n", t.file, c.Line, c.Text, c.Verdict, c.WantAnswer, c.Answer, how)
		case how == "":
			fmt.Fprintf(t.e.stdout, "%s:%d: %s: expected %s, got %s (decided by %s)\n", t.file, c.Line, c.Text, c.Verdict, c.Got, c.By)
		default:
			fmt.Fprintf(t.e.stdout, "%s:%d: %s: expected %s, got %s in the kernel (%s)\n", t.file, c.Line, c.Text, c.Verdict, c.Got, how)
		}
		t.failed++
	}
}

// inKernel checks a block's expectations with real packets, the policy
// loaded by loader; false is trouble, already reported.
func (t *tally) inKernel(p *ir.Policy, b sim.TestBlock, ld backends.Loader) bool {
	l, err := lab.New(b.Interfaces())
	if err != nil {
		fmt.Fprintf(t.e.stderr, "ksc test: %v\n", err)
		return false
	}
	stop := closeOnSignal(t.e, l)
	defer func() {
		stop()
		if err := l.Close(); err != nil {
			fmt.Fprintf(t.e.stderr, "ksc test: %v\n", err)
		}
	}()
	if err := ld.Load(p, l.Path()); err != nil {
		fmt.Fprintf(t.e.stderr, "%s: %s cannot load the policy: %v\n", t.where(b.Line), ld.Name, err)
		return false
	}
	checked, err := l.Check(p, b)
	if err != nil {
		fmt.Fprintf(t.e.stderr, "%s:%v\n", t.file, err)
		return false
	}
	t.report(checked, ld.Name)
	return true
}

// closeOnSignal deletes the lab's namespaces when ksc test is interrupted
// or terminated, then exits: a lab outlives ksc only if ksc is killed.
func closeOnSignal(e env, l *lab.Lab) (stop func()) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			if err := l.Close(); err != nil {
				fmt.Fprintf(e.stderr, "ksc test: %v\n", err)
			}
			fmt.Fprintf(e.stderr, "ksc test: %v: stopped; the lab is deleted\n", sig)
			os.Exit(exitUsage)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(signals)
		close(done)
	}
}
