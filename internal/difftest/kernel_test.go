package difftest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/require"
)

// loader puts a policy into a lab's firewall namespace, replacing what
// the previous case loaded.
type loader struct {
	name string
	load func(l *Lab, p *ir.Policy) error
}

// skips holds, by loader, the cases a loader cannot take by design:
// regular chains need the whole table in iptables (see its regularChains).
var skips = map[string]func(c *Case) bool{
	"iptables-nft, own chains": func(c *Case) bool { return c.Layout.Via != ir.NoVerdict },
}

// loaders are every loader of backends.Loaders, and one more: the same
// policy without "flush ruleset", in ksc's own chains loaded with
// --noflush, where an accept is a RETURN to the builtin chain.
var loaders = append(kscLoaders(), loader{"iptables-nft, own chains", func(l *Lab, p *ir.Policy) error {
	beside := *p
	beside.FlushRuleset = false
	return iptables.Apply(&beside, nsenter.Path(l.FW.Name), iptables.ModeNFT)
}})

func kscLoaders() []loader {
	var out []loader
	for _, ld := range backends.Loaders {
		out = append(out, loader{ld.Name, func(l *Lab, p *ir.Policy) error { return ld.Load(p, nsenter.Path(l.FW.Name)) }})
	}
	return out
}

// envInt reads a positive number from the environment, or returns def.
func envInt(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

// Every loader must give every generated packet the verdict the IR gives
// it: the nft text through nft -f, the netlink batch, and the iptables
// output through iptables-nft and iptables-legacy, and in ksc's own chains. The seed is new each
// run (KSC_DIFF_SEED repeats one); KSC_DIFF_CASES sets how many rulesets.
func TestEveryLoaderGivesTheIRsVerdict(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore", "conntrack")
	seed := envInt("KSC_DIFF_SEED", rand.Uint64()%1_000_000_000)
	cases := envInt("KSC_DIFF_CASES", 60)
	t.Logf("seed %d (rerun with KSC_DIFF_SEED=%d), %d cases", seed, seed, cases)
	labs := make([]*Lab, len(loaders))
	for i := range loaders {
		labs[i] = NewLab(t)
	}
	g := NewGenerator(seed)
	pairs, probes, chained := 0, 0, 0
	for n := range int(cases) {
		hook := ir.HookInput
		if n%2 == 1 {
			hook = ir.HookOutput
		}
		c, err := g.Case(hook, 4, 24, everyTarget)
		require.NoError(t, err, "seed %d", seed)
		// Each loader has its own lab: they run side by side.
		var wg sync.WaitGroup
		failures := make([][]string, len(loaders))
		for i, ld := range loaders {
			if skip := skips[ld.name]; skip != nil && skip(c) {
				continue
			}
			probes += len(c.Probes)
			pairs += c.Pairs()
			if c.Layout.Via != ir.NoVerdict {
				chained++
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				failures[i] = runCase(labs[i], ld, c, (*Case).Simulated)
			}()
		}
		wg.Wait()
		for i, fs := range failures {
			for _, f := range fs {
				t.Errorf("seed %d (KSC_DIFF_SEED=%d KSC_DIFF_CASES=%d), case %d, loader %s: %s\nruleset as written:\n%s\nas lowered:\n%s",
					seed, seed, n+1, n, loaders[i].name, f, c.Source, lowered(c))
			}
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("%d probes, %d packet×rule pairs through %d loaders (%d case loads with a regular chain); %d rulesets refused by the front end, %d by a target",
		probes, pairs, len(loaders), chained, g.Refused, g.Unexpressible)
	require.NotZero(t, chained, "no case jumped to a regular chain")
	require.GreaterOrEqual(t, pairs, 10_000, "too few packet×rule pairs to mean anything")
}

// runCase loads a case with one loader and sends every probe, all at
// once; it returns what went wrong, one line a problem.
func runCase(lab *Lab, ld loader, c *Case, simulate func(*Case, Probe) Outcome) []string {
	if err := ld.load(lab, c.Policy); err != nil {
		return []string{"loading failed: " + err.Error()}
	}
	// Each case starts with no flows: conntrack state is part of what the
	// probes test.
	if out, err := lab.FW.ExecInput("", "conntrack", "-F"); err != nil {
		return []string{fmt.Sprintf("conntrack -F: %v: %s", err, out)}
	}
	defer lab.closeListeners() // the next case listens where it needs
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	for _, pr := range c.Probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := lab.Run(c.Hook, pr)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A packet lost in the lab (seen rarely, under load) is no
				// verdict; a dropped or rejected one made no conntrack
				// entry, so sending it again is the same probe.
				got, err = lab.Run(c.Hook, pr)
			}
			want := c.Expect(pr)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failures = append(failures, fmt.Sprintf("packet %s (established: %v): %v (the IR says %q)", describe(pr.Packet), pr.Established, err, want))
			case !slices.Contains(want, got):
				failures = append(failures, fmt.Sprintf("packet %s (established: %v): the IR says %q, the kernel did %q", describe(pr.Packet), pr.Established, want, got))
			case simulate(c, pr) != want[0]:
				failures = append(failures, fmt.Sprintf("packet %s (established: %v): the simulator says %q, the IR and the kernel %q", describe(pr.Packet), pr.Established, simulate(c, pr), got))
			}
		}()
	}
	wg.Wait()
	return failures
}

func describe(p ir.Packet) string {
	text := fmt.Sprintf("%s iif=%q oif=%q %s:%d -> %s:%d hops=%d", p.Protocol, p.Iif, p.Oif, p.Src, p.Sport, p.Dst, p.Dport, p.Hops())
	if p.Protocol == ir.ICMP || p.Protocol == ir.ICMPv6 {
		text += fmt.Sprintf(" type=%d code=%d", p.ICMPType, p.ICMPCode)
	}
	if p.Mark != 0 {
		text += fmt.Sprintf(" mark=%#x", p.Mark)
	}
	return text
}

func lowered(c *Case) string {
	text, err := nft.Render(c.Policy, "")
	if err != nil {
		return err.Error()
	}
	return string(text)
}

// The differential test must see a broken lowering. Each mutant loader
// breaks the output one way (ports swapped, negation lost, a match
// dropped) and must disagree with the IR within a few cases.
func TestBrokenLoweringsAreCaught(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "conntrack")
	mutants := []loader{
		{"nft text with sport and dport swapped", func(l *Lab, p *ir.Policy) error {
			text, err := nft.Render(p, "")
			if err != nil {
				return err
			}
			swapped := strings.NewReplacer("sport", "dport", "dport", "sport").Replace(string(text))
			return loadNftText(l, swapped)
		}},
		{"nft text without negation", func(l *Lab, p *ir.Policy) error {
			text, err := nft.Render(p, "")
			if err != nil {
				return err
			}
			// Not "meta nfproto": its negation lost can conflict with an
			// address match, and a mutant must load to be caught by packets.
			lost := regexp.MustCompile(`\b(ifname|addr|port|type|code|mark|state|l4proto) != `)
			return loadNftText(l, lost.ReplaceAllString(string(text), "$1 "))
		}},
		{"netlink batch with != as ==", func(l *Lab, p *ir.Policy) error {
			return applyMutated(l, p, func(e expr.Any) {
				switch e := e.(type) {
				case *expr.Cmp:
					if e.Op == expr.CmpOpNeq {
						e.Op = expr.CmpOpEq
					}
				case *expr.Lookup:
					e.Invert = false
				}
			})
		}},
		{"netlink batch reading ICMP codes as types", func(l *Lab, p *ir.Policy) error {
			return applyMutated(l, p, func(e expr.Any) {
				if pl, ok := e.(*expr.Payload); ok && pl.Base == expr.PayloadBaseTransportHeader && pl.Len == 1 && pl.Offset <= 1 {
					pl.Offset = 1 - pl.Offset // ICMP type and code, not TCP flags
				}
			})
		}},
		{"netlink batch reading the TTL from the next header", func(l *Lab, p *ir.Policy) error {
			return applyMutated(l, p, func(e expr.Any) {
				if pl, ok := e.(*expr.Payload); ok && pl.Base == expr.PayloadBaseNetworkHeader && pl.Len == 1 && (pl.Offset == 8 || pl.Offset == 7) {
					pl.Offset = 15 - pl.Offset // ip ttl reads the protocol, ip6 hoplimit the next header
				}
			})
		}},
		{"netlink batch asking fib of the destination for the source", func(l *Lab, p *ir.Policy) error {
			return applyMutated(l, p, func(e expr.Any) {
				if f, ok := e.(*expr.Fib); ok && f.FlagSADDR {
					f.FlagSADDR, f.FlagDADDR = false, true
				}
			})
		}},
		{"netlink batch with DSCP unshifted", func(l *Lab, p *ir.Policy) error {
			return applyMutated(l, p, func(e expr.Any) {
				// The bits are cleared where they are, and compared as if
				// they were the low ones: ip dscp cs1 reads 0x08, not 0x20.
				if b, ok := e.(*expr.Bitwise); ok && (b.Len == 1 && b.Mask[0] == 0xfc || b.Len == 2 && b.Mask[0] == 0x0f) {
					b.Mask = map[uint32][]byte{1: {0x3f}, 2: {0x00, 0x3f}}[b.Len]
				}
			})
		}},
		{"iptables with hop limit bounds as equality", func(l *Lab, p *ir.Policy) error {
			return loadIptablesReplacing(l, p, regexp.MustCompile(`--(ttl|hl)-(lt|gt) `), "--$1-eq ")
		}},
		{"iptables without its mark matches", func(l *Lab, p *ir.Policy) error {
			return loadIptablesWithout(l, p, regexp.MustCompile(`-m (mark|connmark) (! )?--mark \S+ `))
		}},
		{"iptables without its conntrack matches", func(l *Lab, p *ir.Policy) error {
			return loadIptablesWithout(l, p, regexp.MustCompile(`-m conntrack (! )?--ctstate \S+ `))
		}},
		{"iptables with goto as jump", func(l *Lab, p *ir.Policy) error {
			return loadIptablesReplacing(l, p, regexp.MustCompile(` -g `), " -j ")
		}},
		{"netlink batch with jump as goto", func(l *Lab, p *ir.Policy) error {
			return applyMutated(l, p, func(e expr.Any) {
				if v, ok := e.(*expr.Verdict); ok && v.Kind == expr.VerdictJump {
					v.Kind = expr.VerdictGoto
				}
			})
		}},
	}
	seed := envInt("KSC_DIFF_SEED", rand.Uint64()%1_000_000_000)
	t.Logf("seed %d", seed)
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			failure, caught := firstDisagreement(t, seed, m, (*Case).Simulated)
			if strings.HasPrefix(failure, "loading failed") {
				t.Fatalf("the mutant must load, so that packets catch it: %s", failure)
			}
			if !caught {
				t.Errorf("100 cases and not one disagreement: the differential test cannot see this breakage (seed %d)", seed)
			}
		})
	}
}

// firstDisagreement runs up to 100 generated cases from seed through ld
// in a fresh lab, with simulate standing for the simulator, and returns
// the first failure it reports.
func firstDisagreement(t *testing.T, seed uint64, ld loader, simulate func(*Case, Probe) Outcome) (string, bool) {
	lab := NewLab(t)
	g := NewGenerator(seed)
	for n := range 100 {
		hook := []ir.Hook{ir.HookInput, ir.HookOutput}[n%2]
		c, err := g.Case(hook, 4, 24, everyTarget)
		require.NoError(t, err)
		if failures := runCase(lab, ld, c, simulate); len(failures) > 0 {
			t.Logf("caught in case %d: %s", n, failures[0])
			return failures[0], true
		}
	}
	return "", false
}

// applyMutated applies the netlink batch of p with mutate applied to
// every expression of every rule.
func applyMutated(l *Lab, p *ir.Policy, mutate func(expr.Any)) error {
	b, err := nft.Lower(p)
	if err != nil {
		return err
	}
	for _, r := range b.Rules() {
		for _, e := range r.Rule.Exprs {
			mutate(e)
		}
	}
	return kernel.Apply(b, nsenter.Path(l.FW.Name))
}

// loadIptablesWithout loads the iptables output with what cut matches
// taken out of every rule.
func loadIptablesWithout(l *Lab, p *ir.Policy, cut *regexp.Regexp) error {
	return loadIptablesReplacing(l, p, cut, "")
}

// loadIptablesReplacing loads the iptables output with what re matches
// replaced by repl in every rule.
func loadIptablesReplacing(l *Lab, p *ir.Policy, re *regexp.Regexp, repl string) error {
	for _, f := range []ir.Family{ir.IPv4, ir.IPv6} {
		o, err := iptables.Render(p, f)
		if err != nil {
			return err
		}
		restore := map[ir.Family]string{ir.IPv4: "iptables-nft-restore", ir.IPv6: "ip6tables-nft-restore"}[f]
		if out, err := l.FW.ExecInput(re.ReplaceAllString(string(o.Text), repl), restore); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
	}
	return nil
}

func loadNftText(l *Lab, text string) error { return backends.NftF(nsenter.Path(l.FW.Name), text) }

// The differential test must see a wrong simulator too. Each mutant is
// the simulator with one comparison wrong (it reads the source port for
// the destination port, sees every port one higher, loses the mark, or
// takes every packet for a new flow's) and must disagree with the kernel
// within a few cases.
func TestBrokenSimulatorsAreCaught(t *testing.T) {
	labtest.Require(t, "nft", "conntrack")
	mutants := []struct {
		name  string
		wrong func(p *ir.Packet)
	}{
		{"destination port read from the source port", func(p *ir.Packet) { p.Dport = p.Sport }},
		{"ports one too high", func(p *ir.Packet) { p.Sport++; p.Dport++ }},
		{"marks lost", func(p *ir.Packet) { p.Mark, p.CtMark = 0, 0 }},
		{"ICMP code read as the type", func(p *ir.Packet) { p.ICMPType = p.ICMPCode }},
		{"hop limits taken for the default", func(p *ir.Packet) { p.HopLimitSet = false }},
	}
	nftF := loaders[slices.IndexFunc(loaders, func(l loader) bool { return l.name == "nft" })]
	seed := envInt("KSC_DIFF_SEED", rand.Uint64()%1_000_000_000)
	t.Logf("seed %d", seed)
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			broken := func(c *Case, pr Probe) Outcome {
				m.wrong(&pr.Packet)
				return c.Simulated(pr)
			}
			failure, caught := firstDisagreement(t, seed, nftF, broken)
			if !caught {
				t.Errorf("100 cases and not one disagreement: the differential test cannot see this simulator's mistake (seed %d)", seed)
				return
			}
			require.Contains(t, failure, "the simulator says", "only the simulator is broken")
		})
	}
}
