package kernel_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"
)

// dormantTable filters nothing while dormant; a rollback that woke it
// would drop every packet.
const dormantTable = `table ip sleeper {
	flags dormant
	chain c {
		type filter hook input priority 0; policy drop;
	}
}
`

// bigSets holds a named interval set and an anonymous set, each larger
// than one netlink message carries.
func bigSets() string {
	var named, anon []string
	for i := range 5000 {
		named = append(named, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
	}
	for i := range 3000 {
		anon = append(anon, fmt.Sprintf("%d", 1024+i*7))
	}
	return "table inet big {\n\tset blocked {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { " +
		strings.Join(named, ", ") + " }\n\t}\n\tchain c {\n\t\ttype filter hook input priority 5; policy accept;\n" +
		"\t\tip saddr @blocked drop\n\t\ttcp dport { " + strings.Join(anon, ", ") + " } drop\n\t}\n}\n"
}

// holdOwnerTable creates, in ns, a table with flags owner, as a program
// that owns its table would; the table lives as long as the test.
func holdOwnerTable(t *testing.T, ns *labtest.NS) {
	t.Helper()
	h, err := netns.GetFromPath(nsenter.Path(ns.Name))
	require.NoError(t, err)
	defer h.Close()
	table := kernel.TableRef{Family: nftables.TableFamilyIPv4, Name: "owned"}
	c, closeConn, err := kernel.DialWithTableFlags(int(h), map[kernel.TableRef]uint32{table: kernel.TableOwner})
	require.NoError(t, err)
	t.Cleanup(closeConn)
	tbl := c.AddTable(&nftables.Table{Family: table.Family, Name: table.Name})
	c.AddChain(&nftables.Chain{Name: "c", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	require.NoError(t, c.Flush())
	require.Regexp(t, `table ip owned \{.*\n\tflags owner`, nftList(t, ns), "the owner table was not created")
}

// A rollback puts back exactly what the apply replaced, flags and large
// sets included, and leaves alone what it did not replace: another
// program's owner table, and tables and rules other programs add while
// the apply waits.
func TestRollbackRestoresExactly(t *testing.T) {
	labtest.Require(t, "nft")
	killswitch := golden.Batch(t, loadExample(t, "ivpn-killswitch.ks", lang.Config{})) // flush ruleset
	server := golden.Batch(t, loadExample(t, "server-ssh-https.ks", lang.Config{}))    // its own table only
	for _, tc := range []struct {
		name      string
		before    string
		owner     bool
		apply     *nft.Batch
		meanwhile string // what another program does while the apply waits
		want      kernel.RollbackReport
	}{
		{name: "dormant table", before: dormantTable, apply: killswitch},
		{name: "dormant table of the policy's name", before: strings.ReplaceAll(dormantTable, "ip sleeper", "inet server"), apply: server},
		{name: "large sets", before: bigSets(), apply: killswitch},
		{name: "owner table", before: otherTool, owner: true, apply: killswitch},
		{name: "others' changes kept", before: otherTool, apply: server,
			meanwhile: "add table ip docker\nadd element ip other blocked { 203.0.113.9 }\n",
			want:      kernel.RollbackReport{Kept: []kernel.TableRef{{Family: nftables.TableFamilyIPv4, Name: "docker"}}}},
		{name: "others' tables kept after a flush", before: otherTool, apply: killswitch,
			meanwhile: "add table ip docker\nadd table ip other\n",
			want: kernel.RollbackReport{Kept: []kernel.TableRef{{Family: nftables.TableFamilyIPv4, Name: "docker"}},
				Replaced: []kernel.TableRef{{Family: nftables.TableFamilyIPv4, Name: "other"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := labtest.NewNS(t, "rollback")
			path := nsenter.Path(ns.Name)
			out, err := ns.ExecInput(tc.before, "nft", "-f", "-")
			require.NoError(t, err, out)
			if tc.owner {
				holdOwnerTable(t, ns)
			}
			before := nftList(t, ns)
			snapshot, err := kernel.TakeSnapshot(path, kernel.Replaces(tc.apply), tc.apply.FlushRuleset)
			require.NoError(t, err)
			defer snapshot.Close()
			require.NoError(t, kernel.Apply(tc.apply, path))
			require.NotEqual(t, before, nftList(t, ns))
			if tc.meanwhile != "" {
				out, err := ns.ExecInput(tc.meanwhile, "nft", "-f", "-")
				require.NoError(t, err, out)
			}
			after := nftList(t, ns)
			report, err := snapshot.Rollback()
			require.NoError(t, err)
			assert.Equal(t, tc.want, report)
			if tc.meanwhile == "" {
				// Restored tables list after those left alone: compare
				// table by table.
				assert.Equal(t, tablesOf(before), tablesOf(nftList(t, ns)), "the rollback must bring back the exact ruleset")
				return
			}
			// What others did meanwhile outside the policy's tables stays.
			now := nftList(t, ns)
			assert.Contains(t, now, "table ip docker")
			if !tc.apply.FlushRuleset {
				assert.Contains(t, after, "203.0.113.9")
				assert.Contains(t, now, "203.0.113.9", "a ban added meanwhile must survive the rollback")
				assert.NotContains(t, now, "table inet server")
			} else {
				assert.Contains(t, now, "ip saddr @blocked counter", "the re-created table is back as it was")
			}
		})
	}
}

// tablesOf splits an nft listing into its tables, sorted.
func tablesOf(listing string) []string {
	tables := strings.SplitAfter(listing, "\n}\n")
	sort.Strings(tables)
	return tables
}

// mapsAndTypedSets is a table as other programs write them: an anonymous
// chain (jump { ... }, whose rules must go before the rule that binds
// it), an ingress chain on a device (google/nftables reads no devices: a restore once
// hooked it to none, so that its drop dropped nothing), maps, a
// verdict map that jumps to a chain made after it, sets of host-order
// keys, a typeof set, comments (of the table, a chain, a set and an
// element), maps of objects (named and anonymous, whose elements
// google/nftables cannot read whole), a set with per-element counters and a
// policy, stateful objects, and a range of marks, for which nft writes a
// byteorder expression. google/nftables v0.3.0 reads a verdict map's key
// type wrong, none of a set's user data (the byte order nft writes later
// elements in), counters or policy, and drops byteorder from a rule; ksc
// once restored every named set with a size of its element count, which
// no program could then add to, and left objects out.
const mapsAndTypedSets = `table inet other {
	comment "another program's"
	map m { type ipv4_addr : mark; elements = { 192.0.2.1 : 0x1, 192.0.2.2 : 0x2 }; }
	set marks { type mark; elements = { 0x1, 0x20 }; }
	set tof { typeof ip saddr . tcp dport; elements = { 192.0.2.1 . 22 }; }
	set cm { type ipv4_addr; comment "a set"; elements = { 192.0.2.9 comment "why" }; }
	set counted { type ipv4_addr; counter; policy memory; elements = { 192.0.2.1 }; }
	chain c2 { }
	chain ing { type filter hook ingress device "lo" priority 0; ip saddr 192.0.2.66 drop; }
	map vm { type ipv4_addr : verdict; elements = { 192.0.2.1 : accept, 192.0.2.2 : jump c2 }; }
	counter web { comment "https"; }
	counter other { }
	map counters { type ipv4_addr : counter; elements = { 192.0.2.1 : "web", 192.0.2.2 : "other" }; }
	quota monthly { over 10 mbytes used 1 mbytes; }
	limit slow { rate 10/second burst 5 packets; }
	ct helper ftp { type "ftp" protocol tcp; }
	chain c {
		type filter hook input priority 0;
		comment "its input"
		ip saddr vmap @vm
		meta mark set ip saddr map @m
		meta mark @marks accept
		ip saddr . tcp dport @tof accept
		tcp dport 443 counter name "web"
		quota name "monthly" drop
		limit name "slow" accept
		tcp dport 21 ct helper set "ftp"
		ct mark 0x10-0x20 tcp dport { 80, 443 } accept
		ip saddr @counted accept
		ip saddr 192.0.2.77 jump { counter; accept; }
		counter name ip saddr map @counters
		counter name ip daddr map { 192.0.2.3 : "web" }
	}
}
`

// A rollback puts other programs' sets and maps back as nft made them:
// nft lists them as before, and what a program adds to them afterwards
// goes into the kernel in the very bytes it would have without ksc.
func TestRollbackKeepsOthersSetsAsNftMadeThem(t *testing.T) {
	labtest.Require(t, "nft")
	killswitch := golden.Batch(t, loadExample(t, "ivpn-killswitch.ks", lang.Config{})) // flush ruleset
	afterwards := "add element inet other m { 192.0.2.3 : 0x3 }\n" +
		"add element inet other marks { 0x3 }\n" +
		"add element inet other tof { 192.0.2.3 . 443 }\n" +
		"add element inet other vm { 192.0.2.3 : drop }\n"

	reference := labtest.NewNS(t, "setsref")
	out, err := reference.ExecInput(mapsAndTypedSets+afterwards, "nft", "-f", "-")
	require.NoError(t, err, out)

	ns := labtest.NewNS(t, "setsback")
	out, err = ns.ExecInput(mapsAndTypedSets, "nft", "-f", "-")
	require.NoError(t, err, out)
	before := nftList(t, ns)
	snapshot, err := kernel.TakeSnapshot(nsenter.Path(ns.Name), kernel.Replaces(killswitch), killswitch.FlushRuleset)
	require.NoError(t, err, "a ruleset with maps and typed sets must be restorable")
	defer snapshot.Close()
	require.NoError(t, kernel.Apply(killswitch, nsenter.Path(ns.Name)))
	require.NotContains(t, nftList(t, ns), "table inet other")
	_, err = snapshot.Rollback()
	require.NoError(t, err)
	assert.Equal(t, before, nftList(t, ns), "the rollback must bring back the exact ruleset")

	out, err = ns.ExecInput(afterwards, "nft", "-f", "-")
	require.NoError(t, err, "a restored set must take new elements: %s", out)
	// The elements' bytes, sorted: a hash set lists its elements in an
	// order of its own.
	netlinkForm := func(ns *labtest.NS) []string {
		var elems []string
		for _, line := range strings.Split(ns.Exec(t, "nft", "--debug=netlink", "list", "table", "inet", "other"), "\n") {
			if strings.HasPrefix(line, "\telement ") {
				elems = append(elems, line)
			}
		}
		sort.Strings(elems)
		return elems
	}
	assert.Equal(t, netlinkForm(reference), netlinkForm(ns), "elements added after the rollback must be the bytes nft writes into the original sets")
}

// Every ruleset ksc writes, the article's own script, and rulesets as
// other programs write them (testdata/others: Docker, netavark, wg-quick,
// fail2ban, firewalld), loaded by nft as another program's, come back from
// a rollback listing exactly as before: ksc's whole vocabulary (anonymous
// sets, meters, nat, logs, rejects) and others' (verdict maps, anonymous
// verdict maps, concatenations, fib, ct helpers) go through the restore's
// raw rules and their relinked sets.
func TestRollbackRestoresEveryGoldenRuleset(t *testing.T) {
	labtest.Require(t, "nft")
	root := golden.Root(t)
	files, err := filepath.Glob(filepath.Join(root, "testdata", "golden", "nft", "*.nft"))
	require.NoError(t, err)
	others, err := filepath.Glob(filepath.Join("testdata", "others", "*.nft"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	require.NotEmpty(t, others)
	files = append(append(files, others...), filepath.Join(root, "testdata", "reference", "ivpn-killswitch.nft"))
	server := golden.Batch(t, loadExample(t, "server-ssh-https.ks", lang.Config{}))
	server.FlushRuleset = true // the snapshot takes every table
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			ns := labtest.NewNS(t, "goldback")
			out, err := ns.ExecInput(labtest.NftFile(t, f), "nft", "-f", "-")
			require.NoError(t, err, out)
			before := nftList(t, ns)
			snapshot, err := kernel.TakeSnapshot(nsenter.Path(ns.Name), kernel.Replaces(server), true)
			require.NoError(t, err)
			defer snapshot.Close()
			require.NoError(t, kernel.Apply(server, nsenter.Path(ns.Name)))
			_, err = snapshot.Rollback()
			require.NoError(t, err)
			assert.Equal(t, tablesOf(before), tablesOf(nftList(t, ns)))
		})
	}
}

// iptablesNft are rules as iptables-nft writes them: xtables matches and
// targets inside nf_tables rules, whose info google/nftables holds behind
// a pointer (a fingerprint once printed its address, so that no snapshot
// of such a rule could ever pass its check).
const iptablesNft = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 192.0.2.0/24 -m conntrack --ctstate NEW -m comment --comment "from lan" -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 3/min -j LOG --log-prefix "ssh "
-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
`

// Rules iptables-nft loaded come back from a rollback as iptables-nft
// listed them.
func TestRollbackRestoresIptablesNftRules(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-nft-save")
	killswitch := golden.Batch(t, loadExample(t, "ivpn-killswitch.ks", lang.Config{})) // flush ruleset
	ns := labtest.NewNS(t, "xtback")
	out, err := ns.ExecInput(iptablesNft, "iptables-nft-restore")
	require.NoError(t, err, out)
	save := func() string {
		out, err := ns.ExecInput("", "iptables-nft-save")
		require.NoError(t, err, out)
		var rules []string
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "#") { // the time of the save
				rules = append(rules, line)
			}
		}
		return strings.Join(rules, "\n")
	}
	before, listed := save(), nftList(t, ns)
	require.Contains(t, before, `-j LOG --log-prefix "ssh "`)
	snapshot, err := kernel.TakeSnapshot(nsenter.Path(ns.Name), kernel.Replaces(killswitch), true)
	require.NoError(t, err)
	defer snapshot.Close()
	require.NoError(t, kernel.Apply(killswitch, nsenter.Path(ns.Name)))
	_, err = snapshot.Rollback()
	require.NoError(t, err)
	assert.Equal(t, before, save())
	assert.Equal(t, tablesOf(listed), tablesOf(nftList(t, ns)))
}
