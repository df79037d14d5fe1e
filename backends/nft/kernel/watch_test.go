package kernel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watching runs kernel.Watch of an example on ns until the test ends,
// and delivers its repairs.
func watching(t testing.TB, ns *labtest.NS, example string) <-chan kernel.Repair {
	return watchingBatch(t, ns, golden.Batch(t, loadExample(t, example, lang.Config{})))
}

func watchingBatch(t testing.TB, ns *labtest.NS, b *nft.Batch) <-chan kernel.Repair {
	repairs := make(chan kernel.Repair, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- kernel.Watch(ctx, nsenter.Path(ns.Name), kernel.Keep(b), func(r kernel.Repair) { repairs <- r })
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return repairs
}

func nextRepair(t *testing.T, repairs <-chan kernel.Repair) kernel.Repair {
	t.Helper()
	select {
	case r := <-repairs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no repair within 5 s")
		return kernel.Repair{}
	}
}

func noRepair(t *testing.T, repairs <-chan kernel.Repair, why string) {
	t.Helper()
	select {
	case r := <-repairs:
		t.Fatalf("%s, but Watch repaired: %+v", why, r)
	case <-time.After(300 * time.Millisecond):
	}
}

// Watch puts the policy's table back when another program flushes the
// ruleset or deletes one of its rules, answers none of its own writes,
// and leaves other programs' tables alone.
func TestWatchPutsThePolicyBack(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "watch")
	repairs := watching(t, ns, "server-ssh-https.ks")
	r := nextRepair(t, repairs)
	assert.Empty(t, r.By, "the check at the start")
	require.NoError(t, r.Err)
	assert.Contains(t, nftList(t, ns), "table inet server")
	noRepair(t, repairs, "its own apply is no change")
	want := nftList(t, ns)

	out, err := ns.ExecInput(otherTool, "nft", "-f", "-")
	require.NoError(t, err, out)
	noRepair(t, repairs, "another program's table is no change to the policy")

	ns.Exec(t, "nft", "flush", "ruleset")
	r = nextRepair(t, repairs)
	require.NoError(t, r.Err)
	assert.Regexp(t, `^nft\[\d+\]$`, r.By)
	assert.Contains(t, r.Changes, kernel.DiffLine{Op: '+', Text: "table inet server"})
	assert.Equal(t, want, nftList(t, ns), "the policy is back, and the other program's flushed table stays gone")
	noRepair(t, repairs, "the repair itself is no change")

	handle := ruleHandle(t, ns, "tcp dport 443 accept")
	ns.Exec(t, "nft", "delete", "rule", "inet", "server", "INPUT", "handle", handle)
	r = nextRepair(t, repairs)
	require.NoError(t, r.Err)
	assert.Equal(t, []kernel.DiffLine{{Op: '+', Text: "    tcp dport 443 accept  # server-ssh-https.ks:" + golden.Where(t, "examples/server-ssh-https.ks", "tcp dport $WEB_PORTS accept")}}, r.Changes)
	assert.Equal(t, want, nftList(t, ns))
}

// ruleHandle finds the handle of the rule whose listing contains text.
func ruleHandle(t *testing.T, ns *labtest.NS, text string) string {
	for _, line := range strings.Split(ns.Exec(t, "nft", "-a", "list", "ruleset"), "\n") {
		if strings.Contains(line, text) {
			if _, h, ok := strings.Cut(line, "# handle "); ok {
				return strings.TrimSpace(h)
			}
		}
	}
	t.Fatalf("no rule %q", text)
	return ""
}

// BenchmarkWatchRepair measures how long the kill switch is gone after
// another program flushes the ruleset: "took" from the kernel's event to
// the policy back in force, "gone" from starting "nft flush ruleset" (a
// process start included) to the same point.
func BenchmarkWatchRepair(b *testing.B) {
	labtest.Require(b, "nft")
	ns := labtest.NewNS(b, "watchbench")
	repairs := watching(b, ns, "ivpn-killswitch.ks")
	<-repairs // the check at the start
	var took, gone time.Duration
	for b.Loop() {
		// Spaced out, so that Watch does not take the benchmark for a
		// program that keeps undoing the policy, and pause.
		time.Sleep(250 * time.Millisecond)
		start := time.Now()
		ns.Exec(b, "nft", "flush", "ruleset")
		r := <-repairs
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		took += r.Took
		gone += time.Since(start)
	}
	b.ReportMetric(float64(took.Microseconds())/float64(b.N), "µs-took/op")
	b.ReportMetric(float64(gone.Microseconds())/float64(b.N), "µs-gone/op")
}

// largeSetPolicy is a kill switch beside a blocklist of n addresses in a
// named set.
func largeSetPolicy(t testing.TB, n int) *nft.Batch {
	dir := t.TempDir()
	var list strings.Builder
	for i := range n {
		a := 2 * i // apart, so that no two make a range
		fmt.Fprintf(&list, "10.%d.%d.%d\n", a>>16&0xff, a>>8&0xff, a&0xff)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "block.txt"), []byte(list.String()), 0o644))
	src := `define BLOCK = file("block.txt")
table inet ks {
	chain output hook output policy drop {
		oifname "lo" accept
		ip daddr $BLOCK drop
		oifname "tun0" accept
	}
}
`
	p, ds := lang.Load(filepath.Join(dir, "ks.ks"), []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	return golden.Batch(t, p)
}

func setHandle(t testing.TB, ns *labtest.NS) string {
	out := ns.Exec(t, "nft", "-a", "list", "sets", "inet")
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "set BLOCK") {
			return l
		}
	}
	t.Fatalf("no set BLOCK in %s", out)
	return ""
}

// A repair beside a large set reads and sends what changed: a rule
// inserted by another program is taken out again without the set's
// elements read or sent (it took 3.7-5.6 s beside 150,000 elements; see
// BenchmarkWatchRepairBesideLargeSet), and the set is the same set after
// (its handle is).
func TestWatchRepairsBesideALargeSetInPlace(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "watchbig")
	repairs := watchingBatch(t, ns, largeSetPolicy(t, 50000))
	select { // the check at the start reads the whole set: slow
	case r := <-repairs:
		require.NoError(t, r.Err)
	case <-time.After(60 * time.Second):
		t.Fatal("no check at the start within 60 s")
	}
	handle := setHandle(t, ns)
	ns.Exec(t, "nft", "insert", "rule", "inet", "ks", "output", "accept")
	r := nextRepair(t, repairs)
	require.NoError(t, r.Err)
	assert.NotContains(t, ns.Exec(t, "nft", "list", "chain", "inet", "ks", "output"), "\t\taccept\n")
	assert.Equal(t, handle, setHandle(t, ns), "the set was made again")
	assert.Less(t, r.Took, time.Second, "a repair beside a large set")
}

// BenchmarkWatchRepairBesideLargeSet measures how long an accept rule
// another program inserts stays beside a 150,000-element set.
func BenchmarkWatchRepairBesideLargeSet(b *testing.B) {
	labtest.Require(b, "nft")
	ns := labtest.NewNS(b, "watchbigbench")
	repairs := watchingBatch(b, ns, largeSetPolicy(b, 150000))
	<-repairs
	var took time.Duration
	for b.Loop() {
		time.Sleep(250 * time.Millisecond) // no fight
		ns.Exec(b, "nft", "insert", "rule", "inet", "ks", "output", "accept")
		r := <-repairs
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		took += r.Took
	}
	b.ReportMetric(float64(took.Microseconds())/float64(b.N), "µs-took/op")
}
