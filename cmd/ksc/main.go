// Command ksc compiles one small firewall policy into every form a Linux
// machine needs: an nft script, a netlink batch, iptables rules, sysctl and
// OpenVPN settings.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/ksc-project/ksc/enforce"

	"github.com/spf13/pflag"
)

// Exit statuses: 1 is a problem with the policy or the system, 2 a problem
// with the command line.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// mainUsage lists the commands from the command table.
var mainUsage string

func usageOfKsc() string {
	var b strings.Builder
	b.WriteString(`ksc - the kill-switch compiler

Usage:
  ksc <command> [arguments]

Commands:
`)
	for _, c := range commands {
		if c.summary != "" {
			fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
		}
	}
	b.WriteString(`
Examples:
  ksc compile examples/ivpn-killswitch.ks --target nft
  ksc compile policy.ks -t nft -e lan -D INET_DEV=wlan0 -o /etc/nftables.conf
  ksc check policy.ks
  sudo ksc apply policy.ks --confirm 30s

Run "ksc <command> --help" for a command's flags.
`)
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command may touch: its streams, so that tests can run
// commands in process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one row of the command table: help, completion and the
// manual page are all written from it.
type command struct {
	name string
	// summary is its line in "ksc --help"; a command without one is not
	// listed (the rollback guard, which apply starts).
	summary string
	run     func(e env, args []string) int
	usage   string
}

// commands is set in init: completion and the manual page read it, and
// are commands of it.
var commands []command

func init() {
	commands = []command{
		{"compile", "compile a policy to a target (" + targetNames() + ")", runCompile, compileUsage},
		{"check", "parse and validate a policy, and point out useless rules", runCheck, checkUsage},
		{"explain", "say what a policy does with one packet, without loading it", runExplain, explainUsage},
		{"test", "check a policy's promises (POLICY.kst), simulated or in the kernel", runTest, testUsage},
		{"fmt", "print or rewrite a policy in the canonical layout", runFmt, fmtUsage},
		{"import", "print an nft ruleset (a file, or the live one) as a policy", runImport, importUsage},
		{"apply", "apply a policy to the running kernel, atomically (netlink)", runApply, applyUsage},
		{"confirm", `confirm a waiting "ksc apply --confirm"`, runConfirm, confirmUsage},
		{"diff", "show what applying a policy would change", runDiff, diffUsage},
		{"status", "show whether a policy is loaded, with rule counters", runStatus, statusUsage},
		{"remove", "delete a policy's tables", runRemove, removeUsage},
		{"set", "add addresses to a set of a policy in force, or delete them", runSet, setUsage},
		{"run", "start a program inside a cgroup the policy matches (split tunnelling)", runRun, runUsage},
		{"openvpn", "patch the IPv6 directives into an OpenVPN client config", runOpenVPN, openvpnUsage},
		{"watch", "put a policy back whenever another program changes it", runWatch, watchUsage},
		{"install", "apply a policy at every boot, before the network comes up", runInstall, installUsage},
		{"uninstall", `remove what "ksc install" wrote`, runUninstall, uninstallUsage},
		{"completion", "print a completion script for bash, zsh or fish", runCompletion, completionUsage},
		{"man", "print this manual as a man page (roff)", runMan, manUsage},
		{"version", "print the version", runVersion, versionUsage},
		{enforce.GuardCommand, "", runGuard, guardUsage},
	}
	mainUsage = usageOfKsc()
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := env{stdin, stdout, stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	case "-v", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, ok := lookupCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "ksc: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
	return cmd.run(e, args[1:])
}

// newFlags makes a flag set that reports errors but leaves printing usage
// to parseFlags.
func newFlags(e env, name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.SortFlags = false
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args; it returns a non-negative exit status when the
// command should stop (after --help, or on a usage error).
func parseFlags(e env, fs *pflag.FlagSet, usage string, args []string) int {
	if describing != nil {
		describing(fs)
		return exitOK
	}
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintf(e.stdout, "%s\nFlags:\n%s", usage, fs.FlagUsages())
		return exitOK
	}
	if err != nil {
		// pflag leaves printing the error to us.
		fmt.Fprintf(e.stderr, "ksc %s: %v\nRun \"ksc %s --help\" for usage.\n", fs.Name(), err, fs.Name())
		return exitUsage
	}
	return -1
}

const versionUsage = `Usage: ksc version

Print the version of ksc.
`

func runVersion(e env, args []string) int {
	fs := newFlags(e, "version")
	if code := parseFlags(e, fs, versionUsage, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "ksc version: takes no arguments\n")
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "ksc %s\n", version())
	return exitOK
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
