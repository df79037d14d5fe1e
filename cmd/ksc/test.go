package main

import (
	"context"
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
	"github.com/ksc-project/ksc/machine"
	"github.com/ksc-project/ksc/sim"
)

const testUsage = `Usage: ksc test POLICY [TESTS] [--kernel [--backend LOADER] | --live [--netns NAME] [--in-force]]

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

A promise ("never accept REGION [except ...]", or "always accept ...")
speaks of every packet of a region at once: ksc test sends the whole region through the chains,
each rule cutting it in parts, and finds every part the policy accepts.
A part its exceptions do not cover breaks the promise; ksc test names a
packet of it that the simulation accepts. Where the region cannot say
whether a rule holds (a rate, a named set, a mark under a mask, the
owner of a packet the kernel may send itself) or what a rewrite made of
an address, and no packet shows a break, the answer is unknown, and why.
With --kernel, ksc test proves the promises the same way, and sends each
packet that breaks one through every loader: the kernel must accept it
too.

With --live, ksc test answers for the whole machine as applying the
policy would leave it (root; nothing is loaded): every table in force,
other programs' included (Docker's, fail2ban's, firewalld's, iptables-nft's),
with the policy's tables in place of theirs of the same names, as ksc
explain --live does. A packet whose way meets a rule ksc cannot read (an
"xt match" of iptables-nft) is tried both ways; where the ways disagree,
or a rule ksc cannot read may act, the answer is unknown and names it.
So ksc test --live finds another program's rule that defeats a promise:
a forward accept of Docker's, an earlier drop. With --in-force the
policy is taken to be in force already, with either backend, and the
machine is answered for as it is: how a policy applied with the
iptables backend fares beside Docker's rules inserted before its own.

Exit status 0 when every expectation and promise holds, 1 when one does
not, 2 on trouble (a test or the policy does not load, a line cannot be
sent, a promise is unknown).

TESTS:
` + sim.KSTSyntax + `

PROMISES:
` + sim.RegionSyntax + `

Flags:
  --kernel           send real packets instead of simulating (root)
  --backend LOADER   with --kernel, how to load the policy: netlink (what
                     ksc apply does; the default), nft (nft -f),
                     iptables-nft, iptables-legacy, or all of them
  --live             the whole machine's rules with the policy's (root)
  --netns NAME       with --live, the machine is this namespace
  --in-force         with --live, the policy is in force already (either
                     backend): the machine as it is, the policy not put in

Examples:
  ksc test examples/ivpn-killswitch.ks
  ksc test policy.ks promises.kst
  sudo ksc test examples/strict-killswitch.ks --kernel --backend all
  sudo ksc test examples/wireguard-killswitch.ks --live
`

func runTest(e env, args []string) int {
	fs := newFlags(e, "test")
	inKernel := fs.Bool("kernel", false, "send real packets through the policy loaded in throwaway namespaces (root)")
	mf := registerMachineFlags(fs, "simulate the whole machine with the policy applied: every table in force, other programs' too (root)")
	live := mf.live
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
	if *live && *inKernel {
		fmt.Fprintln(e.stderr, "ksc test: --live simulates the machine's own rules; --kernel sends packets through the policy alone in a lab: choose one")
		return exitUsage
	}
	if mf.misused(e) {
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
	// A signal deletes the lab before ksc test exits: a lab outlives ksc
	// only if ksc is killed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ran := map[string]bool{}
	for _, b := range blocks {
		pf := policyFlags{enable: b.Enable, defines: b.Defines, quiet: true, cmd: "test", defineFilesIn: testDir}
		p := pf.load(e, policy)
		if p == nil {
			fmt.Fprintf(e.stderr, "%s:%d: the policy does not load with these settings\n", file, b.Line)
			return exitUsage
		}
		if *live {
			m, err := mf.read(p)
			if err != nil {
				fmt.Fprintf(e.stderr, "ksc test: %v\n", err)
				return exitUsage
			}
			t.proveOn(b.Promises, m)
			t.report(b.SimulateBy(m.Evaluate), "")
			continue
		}
		witnesses := t.prove(b.Promises, p)
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
			if !t.inKernel(ctx, p, b, ld) {
				return exitUsage
			}
			if len(witnesses) > 0 {
				wb := b
				wb.Expect = witnesses
				if !t.witnessesInKernel(ctx, p, wb, ld) {
					return exitUsage
				}
			}
			ran[name] = true
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", t.passed, t.failed)
	if t.unsent > 0 {
		summary += fmt.Sprintf(", %d not sent", t.unsent)
	}
	if t.unknown > 0 {
		summary += fmt.Sprintf(", %d unknown", t.unknown)
	}
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
	if t.unsent > 0 || t.unknown > 0 {
		return exitUsage // a promise the kernel was not asked about, or not decided, is no pass
	}
	if t.failed > 0 {
		return exitFailure
	}
	return exitOK
}

// tally counts and reports expectations as they are checked.
type tally struct {
	e                               env
	file                            string
	passed, failed, unsent, unknown int
}

// prove decides the block's promises about every packet of a region,
// and returns the packets that break them, each as an expectation of
// its promise's line that the policy accepts it.
func (t *tally) prove(promises []sim.Promise, p *ir.Policy) []sim.Expectation {
	var witnesses []sim.Expectation
	for _, pr := range promises {
		proof := pr.Prove(p)
		switch {
		case proof.Kept:
			t.passed++
		case proof.Witness != "":
			witnesses = append(witnesses, sim.Expectation{Line: pr.Line, Verdict: proof.Got, Packet: proof.WitnessPacket, Text: proof.Witness})
			fmt.Fprintf(t.e.stdout, "%s:%d: %s: broken: %s is %s (decided by %s)\n  %s: %s\n", t.file, pr.Line, promiseText(pr), proof.Witness, sim.Past(proof.Got), proof.By, sim.Past(proof.Got), proof.Breaks)
			t.failed++
		default:
			fmt.Fprintf(t.e.stderr, "%s:%d: %s: unknown, because %s\n", t.file, pr.Line, promiseText(pr), strings.Join(proof.Unknown, "; "))
			t.unknown++
		}
	}
	return witnesses
}

// proveOn decides the block's promises on the machine: unknown, all of
// them, where it has what ksc reads nothing of.
func (t *tally) proveOn(promises []sim.Promise, m *machine.Machine) {
	if len(m.Unseen) == 0 {
		t.prove(promises, m.Policy)
		return
	}
	for _, pr := range promises {
		fmt.Fprintf(t.e.stderr, "%s:%d: %s: unknown, because ksc cannot read %s\n", t.file, pr.Line, promiseText(pr), m.Blind())
		t.unknown++
	}
}

func promiseText(pr sim.Promise) string {
	if pr.Always {
		return "always accept " + pr.Text
	}
	return "never accept " + pr.Text
}

// witnessesInKernel sends the packets that break promises through the
// policy loaded by loader: the kernel must give each the verdict the
// simulation does, or the two disagree, which is a failure of its own.
// False is trouble, already reported.
func (t *tally) witnessesInKernel(ctx context.Context, p *ir.Policy, b sim.TestBlock, ld backends.Loader) bool {
	checked, err := lab.CheckBlock(ctx, p, b, func(nsPath string) error { return ld.Load(p, nsPath) })
	if err != nil {
		fmt.Fprintf(t.e.stderr, "%s: %s: %v\n", t.where(b.Line), ld.Name, err)
		return false
	}
	for _, c := range checked {
		switch {
		case c.Unsent != "":
			fmt.Fprintf(t.e.stderr, "%s:%d: the breaking packet %s: %s (%s)\n", t.file, c.Line, c.Text, c.Unsent, ld.Name)
			t.unsent++
		case c.Got == c.Verdict:
			fmt.Fprintf(t.e.stdout, "%s:%d: the breaking packet %s is %s in the kernel too (%s)\n", t.file, c.Line, c.Text, sim.Past(c.Got), ld.Name)
		default:
			fmt.Fprintf(t.e.stdout, "%s:%d: the breaking packet %s: the simulation %s it, the kernel %s it (%s)\n", t.file, c.Line, c.Text, c.Verdict.String()+"s", c.Got.String()+"s", ld.Name)
			t.failed++
		}
	}
	return true
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
		case c.Unsent != "" && how == "":
			fmt.Fprintf(t.e.stderr, "%s:%d: %s: unknown, because %s\n", t.file, c.Line, c.Text, c.Unsent)
			t.unknown++
			continue
		case c.Unsent != "":
			fmt.Fprintf(t.e.stderr, "%s:%d: %s: %s (%s)\n", t.file, c.Line, c.Text, c.Unsent, how)
			t.unsent++
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
func (t *tally) inKernel(ctx context.Context, p *ir.Policy, b sim.TestBlock, ld backends.Loader) bool {
	checked, err := lab.CheckBlock(ctx, p, b, func(nsPath string) error { return ld.Load(p, nsPath) })
	var loadErr *lab.LoadError
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(t.e.stderr, "ksc test: stopped; the lab is deleted\n")
		return false
	case errors.As(err, &loadErr):
		fmt.Fprintf(t.e.stderr, "%s: %s cannot load the policy: %v\n", t.where(b.Line), ld.Name, loadErr.Err)
		return false
	case err != nil:
		fmt.Fprintf(t.e.stderr, "%s:%v\n", t.file, err)
		return false
	}
	t.report(checked, ld.Name)
	return true
}
