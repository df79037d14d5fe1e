package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile are texts an attacker, or a careless script, might get into a
// policy or onto the command line, hoping to end a string, a statement or
// a line in some target's output.
var hostile = []string{
	`a"b`, `a;b`, "a\nb", "a\rb", "a\x00b", `a{b`, `a}b`, `a$b`, "a`b", `a'b`, `a\b`, `a#b`,
	`$(reboot)`, "`reboot`", `"; flush ruleset; "`, "' ; reboot ; '", strings.Repeat("x", 300), "éth0", "eth0 accept",
}

const hostilePolicy = `flush ruleset
define DEV = eth0
ipv6 sysctl disable
ipv6 openvpn block
table inet t {
	chain c hook output policy drop {
		oifname $DEV ip daddr $LIST counter log prefix "PREFIX" accept comment "COMMENT"
		oifname "wg0" log prefix "PREFIX" group 3 accept
	}
}
`

// compileAll compiles a policy to every target in process, returning each
// target's output (nil when it was refused, which is fine).
func compileAll(t *testing.T, dir, file, policy string, args ...string) map[string]string {
	t.Helper()
	path := filepath.Join(dir, file)
	require.NoError(t, os.WriteFile(path, []byte(policy), 0o644))
	outs := map[string]string{}
	for target := range targets {
		code, stdout, _ := ksc(append([]string{"compile", path, "-t", target}, args...)...)
		if code == 0 {
			outs[target] = stdout
		} else {
			require.Equal(t, 1, code, "a refusal exits with status 1")
		}
	}
	return outs
}

var (
	ruleLine   = regexp.MustCompile(`(?m)^\t\t(oifname|iifname|ip |counter|log)`)
	restoreArg = regexp.MustCompile(`(?m)^-A `)
	scriptCmd  = regexp.MustCompile(`(?m)^(iptables|ip6tables) `)
	sysctlLine = regexp.MustCompile(`^net\.ipv6\.conf\.(all|default|lo)\.disable_ipv6 = [01]$`)
	ovpnLine   = regexp.MustCompile(`^(ifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1|redirect-gateway ipv6|block-ipv6)$`)
	ipsetLine  = regexp.MustCompile(`^(create ksc-LIST-[46] hash:net family inet6? maxelem \d+ -exist|flush ksc-LIST-[46]|add ksc-LIST-[46] [0-9a-f.:]+/\d+)$`)
)

// shape is what an output must keep whatever text it carries: its count
// of rules and commands, and lines that are comments or expected.
func shape(t *testing.T, target, out string) string {
	switch target {
	case "nft":
		return strings.Repeat("r", len(ruleLine.FindAllString(out, -1)))
	case "iptables", "ip6tables":
		return strings.Repeat("r", len(restoreArg.FindAllString(out, -1)))
	case "iptables-script":
		return strings.Repeat("c", len(scriptCmd.FindAllString(out, -1)))
	}
	re := sysctlLine
	switch target {
	case "openvpn":
		re = ovpnLine
	case "ipset":
		re = ipsetLine
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		assert.Regexp(t, re, l, "%s output has an unexpected line", target)
		n++
	}
	return strings.Repeat("l", n)
}

// Every hostile text, in every place a text can enter, either is refused
// or stays inert: each target's output keeps exactly the benign output's
// structure, and the real tools accept it.
func TestHostileInputEveryTarget(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "list.txt"), []byte("192.0.2.1\n"), 0o644))
	withList := strings.Replace(hostilePolicy, "define DEV = eth0\n", "define DEV = eth0\ndefine LIST = file(\"list.txt\")\n", 1)
	benign := compileAll(t, dir, "p.ks", withList)
	require.Len(t, benign, len(targets), "the benign policy compiles to every target")
	want := map[string]string{}
	for target, out := range benign {
		want[target] = shape(t, target, out)
	}
	kernel := os.Geteuid() == 0 && hasTools("unshare", "nft", "iptables-nft-restore", "ip6tables-nft-restore", "ipset")

	for _, h := range hostile {
		quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(h)
		cases := map[string]map[string]string{
			"interface via -D": compileAll(t, dir, "p.ks", withList, "-D", `DEV="`+quoted+`"`),
			"log prefix":       compileAll(t, dir, "p.ks", strings.ReplaceAll(withList, "PREFIX", h)), // LOG and NFLOG
			"comment":          compileAll(t, dir, "p.ks", strings.Replace(withList, "COMMENT", h, 1)),
		}
		if !strings.ContainsAny(h, "/\x00") && len(h) < 200 { // names the file system can hold
			cases["file name"] = compileAll(t, dir, "p"+h+".ks", withList)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "list.txt"), []byte("192.0.2.1\n"+h+"\n"), 0o644))
		cases["set file line"] = compileAll(t, dir, "p.ks", withList)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "list.txt"), []byte("192.0.2.1\n"), 0o644))

		for slot, outs := range cases {
			for target, out := range outs {
				assert.Equal(t, want[target], shape(t, target, out), "%q as %s changed the %s output:\n%s", h, slot, target, out)
				if !kernel {
					continue
				}
				var check *exec.Cmd
				switch target {
				case "nft":
					check = exec.Command("unshare", "--net", "nft", "-c", "-f", "-")
				case "iptables", "ip6tables":
					// The rules match the case's ipsets, which must exist.
					sets := filepath.Join(dir, "sets")
					require.NoError(t, os.WriteFile(sets, []byte(outs["ipset"]), 0o600))
					check = exec.Command("unshare", "--net", "sh", "-c", `ipset restore < "$1" && `+target+`-nft-restore --test`, "sh", sets)
				case "ipset":
					check = exec.Command("unshare", "--net", "ipset", "restore")
				case "iptables-script":
					check = exec.Command("sh", "-n")
				default:
					continue
				}
				check.Stdin = strings.NewReader(out)
				msg, err := check.CombinedOutput()
				assert.NoError(t, err, "%q as %s: %s refuses the %s output: %s\n%s", h, slot, check.Args, target, msg, out)
			}
		}
	}
}
