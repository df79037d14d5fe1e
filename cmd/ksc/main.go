// Command ksc compiles one small firewall policy into every form a Linux
// machine needs: an nft script, a netlink batch, iptables rules, sysctl and
// OpenVPN settings.
package main

import (
	"errors"
	"fmt"
	"github.com/ksc-project/ksc/enforce"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// Exit statuses: 1 is a problem with the policy or the system, 2 a problem
// with the command line.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// mainUsage names compile's targets from the table of targets itself.
var mainUsage = `ksc - the kill-switch compiler

Usage:
  ksc <command> [arguments]

Commands:
  compile   compile a policy to a target (` + targetNames() + `)
  check     parse and validate a policy, and point out useless rules
  explain   say what a policy does with one packet, without loading it
  test      check a policy's promises (POLICY.kst), simulated or in the kernel
  fmt       print or rewrite a policy in the canonical layout
  apply     apply a policy to the running kernel, atomically (netlink)
  confirm   confirm a waiting "ksc apply --confirm"
  diff      show what applying a policy would change
  status    show whether a policy is loaded, with rule counters
  remove    delete a policy's tables
  openvpn   patch the IPv6 directives into an OpenVPN client config
  watch     put a policy back whenever another program changes it
  install   apply a policy at every boot, before the network comes up
  uninstall remove what "ksc install" wrote
  version   print the version

Examples:
  ksc compile examples/ivpn-killswitch.ks --target nft
  ksc compile policy.ks -t nft -e lan -D INET_DEV=wlan0 -o /etc/nftables.conf
  ksc check policy.ks
  sudo ksc apply policy.ks --confirm 30s

Run "ksc <command> --help" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command may touch: its streams, so that tests can run
// commands in process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	run   func(e env, args []string) int
	usage string
}

var commands = map[string]command{
	"compile":            {runCompile, compileUsage},
	"check":              {runCheck, checkUsage},
	"explain":            {runExplain, explainUsage},
	"test":               {runTest, testUsage},
	"fmt":                {runFmt, fmtUsage},
	"apply":              {runApply, applyUsage},
	"confirm":            {runConfirm, confirmUsage},
	"diff":               {runDiff, diffUsage},
	"status":             {runStatus, statusUsage},
	"remove":             {runRemove, removeUsage},
	"openvpn":            {runOpenVPN, openvpnUsage},
	"install":            {runInstall, installUsage},
	"watch":              {runWatch, watchUsage},
	"uninstall":          {runUninstall, uninstallUsage},
	enforce.GuardCommand: {runGuard, guardUsage}, // started by apply --confirm; not listed
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
	case "-v", "--version", "version":
		fmt.Fprintf(stdout, "ksc %s\n", version())
		return exitOK
	}
	cmd, ok := commands[args[0]]
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

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
