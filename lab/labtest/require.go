package labtest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a kernel test that cannot
// run from a skip into a failure. CI sets it, so that a skip never passes as green.
const RequireEnv = "KSC_REQUIRE_KERNEL_TESTS"

// Require stops the test unless it can create namespaces and run tools: it
// skips with the reason, or fails when RequireEnv is set to 1.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "kernel tests need root (they create network namespaces)"
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if reason == "" {
			if _, err := exec.LookPath(tool); err != nil {
				reason = "kernel tests need " + tool + " on PATH"
			}
		}
	}
	if reason == "" {
		guardHost(t)
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1 forbids skipping", reason, RequireEnv)
	}
	t.Skipf("skipped: %s (set %s=1 to make this a failure)", reason, RequireEnv)
}

// guardHost fails the test if the namespace the tests run in has different
// firewall rules when the test ends than when it began (nftables, and the
// legacy iptables tables, which nft does not show): every ruleset a test
// loads must go into a namespace of its own.
func guardHost(t testing.TB) {
	list := func() string {
		var all strings.Builder
		for _, cmd := range [][]string{{"nft", "list", "ruleset"}, {"iptables-legacy-save"}, {"ip6tables-legacy-save"}} {
			if _, err := exec.LookPath(cmd[0]); err != nil {
				continue
			}
			out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
			if err != nil {
				out = []byte(cmd[0] + " failed: " + err.Error())
			}
			// Comments carry the time of the listing, and counters move
			// with the host's own traffic: neither is a change of rules.
			for _, line := range strings.Split(string(out), "\n") {
				if !strings.HasPrefix(line, "#") {
					all.WriteString(withoutCounters(line) + "\n")
				}
			}
		}
		return all.String()
	}
	before := list()
	t.Cleanup(func() {
		if after := list(); after != before {
			t.Errorf("this test changed the firewall of the namespace the tests run in:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

var (
	nftCounter  = regexp.MustCompile(`packets \d+ bytes \d+`)
	saveCounter = regexp.MustCompile(`\[\d+:\d+\]`)
)

// withoutCounters zeroes the packet and byte counts in a line of
// "nft list ruleset" or iptables-save output.
func withoutCounters(line string) string {
	line = nftCounter.ReplaceAllString(line, "packets 0 bytes 0")
	return saveCounter.ReplaceAllString(line, "[0:0]")
}
