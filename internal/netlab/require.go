package netlab

import (
	"os"
	"os/exec"
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

// guardHost fails the test if the namespace the tests run in has a
// different nftables ruleset when the test ends than when it began: every
// ruleset a test loads must go into a namespace of its own.
func guardHost(t testing.TB) {
	list := func() string {
		out, err := exec.Command("nft", "list", "ruleset").CombinedOutput()
		if err != nil {
			return "nft list ruleset failed: " + err.Error()
		}
		return string(out)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return
	}
	before := list()
	t.Cleanup(func() {
		if after := list(); after != before {
			t.Errorf("this test changed the ruleset of the namespace the tests run in:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}
