package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/spf13/pflag"
)

const runUsage = `Usage: ksc run POLICY CGROUP [flags] -- PROGRAM [ARG...]

Start PROGRAM inside a cgroup POLICY matches (socket cgroupv2), so that
what it sends is what POLICY says of that cgroup: one application only
through the tunnel, or around it, while every other keeps the kill
switch. Its children stay in the cgroup.

CGROUP is a path POLICY matches ("ksc/vpn"), one below it
("ksc/vpn/firefox", made if missing), or the name of a define of POLICY
whose value is such a path (VPN_APPS). A cgroup POLICY matches nothing
of is an error: the program would be treated as any other, and a typo
would put it on the wrong side of the tunnel. A cgroup POLICY names
must exist before the policy is applied (nft and iptables look its id
up then), so ksc run does not make it: make it once (mkdir), then apply.

Where systemd runs the machine and CGROUP is a slice
("ksc.slice/ksc-vpn.slice"), systemd starts the program in a scope of
that slice (systemd-run --scope), so that systemd knows of it; otherwise
ksc starts it in the cgroup itself (clone3 CLONE_INTO_CGROUP).

PROGRAM runs as the user who ran sudo (SUDO_UID, SUDO_GID), or as
--user, never as root by surprise: as root only when root ran ksc. ksc
run waits for PROGRAM and exits with its status.

Examples:
  sudo ksc run split.ks ksc/vpn -- firefox
  sudo ksc run split.ks BYPASS --user alice -- steam
`

func runRun(e env, args []string) int {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var pf policyFlags
	pf.register(fs)
	userName := fs.String("user", "", "run PROGRAM as `USER` (a name or uid); default: the user who ran sudo")
	if code := parseFlags(e, fs, runUsage, args); code >= 0 {
		return code
	}
	// "--" after POLICY and CGROUP keeps PROGRAM's flags its own.
	rest := fs.Args()
	if fs.ArgsLenAtDash() != 2 || len(rest) < 3 {
		fmt.Fprintln(e.stderr, "ksc run: want a policy, a cgroup, then -- and a program; see ksc run --help")
		return exitUsage
	}
	policyPath, name, program := rest[0], rest[1], rest[2:]
	p := pf.load(e, policyPath)
	if p == nil {
		return exitFailure
	}
	path, err := runCgroup(e, policyPath, p, name, pf.defines)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc run: %v\n", err)
		return exitFailure
	}
	cred, err := runAs(*userName)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc run: %v\n", err)
		return exitFailure
	}
	cmd, done, err := startIn(path, cred, program)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc run: %v\n", err)
		return exitFailure
	}
	defer done()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	// ^C reaches PROGRAM, in the terminal's process group: ksc waits.
	swallowed := make(chan os.Signal, 1)
	signal.Notify(swallowed, os.Interrupt, syscall.SIGQUIT)
	defer signal.Stop(swallowed)
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(e.stderr, "ksc run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// runCgroup is the cgroup CGROUP names: a path the policy matches or
// one below it, or a define whose value is one.
func runCgroup(e env, policyPath string, p *ir.Policy, name string, overrides []string) (string, error) {
	matched := p.Cgroups()
	if len(matched) == 0 {
		return "", fmt.Errorf("%s matches no cgroup (socket cgroupv2): a program started in one would be treated as any other", policyPath)
	}
	path := strings.TrimPrefix(name, "/")
	if v, ok := definedPath(e, policyPath, name, overrides); ok {
		path = v
	}
	if err := ir.CheckCgroupPath(path); err != nil {
		return "", fmt.Errorf("%s is neither a define of %s nor a cgroup path: %v", name, policyPath, err)
	}
	i := slices.IndexFunc(matched, func(m string) bool { return path == m || strings.HasPrefix(path, m+"/") })
	if i < 0 {
		return "", fmt.Errorf("%s matches no cgroup %s, nor one above it: the program would be treated as any other (it matches %s)",
			policyPath, path, strings.Join(matched, ", "))
	}
	if _, err := cgroup.ID(matched[i]); errors.Is(err, cgroup.ErrMissing) {
		dir, _ := cgroup.Dir(matched[i])
		return "", fmt.Errorf("cgroup %s does not exist, so %s cannot be in force: make it (mkdir -p %s), then apply the policy", matched[i], policyPath, dir)
	} else if err != nil {
		return "", err
	}
	return path, nil
}

// definedPath is the value of the define name, as -D gives it or else
// the policy file, when it is a string or a word.
func definedPath(e env, policyPath, name string, overrides []string) (string, bool) {
	for _, d := range slices.Backward(overrides) {
		if o, err := lang.ParseOverride(d); err == nil && o.Name == name {
			if v, err := strconv.Unquote(o.Value); err == nil {
				return strings.TrimPrefix(v, "/"), true
			}
			return strings.TrimPrefix(o.Value, "/"), true
		}
	}
	src, file, err := readPolicy(e, policyPath)
	if err != nil {
		return "", false
	}
	f, ds := lang.Parse(file, src)
	if ds.HasErrors() {
		return "", false
	}
	for _, it := range f.Items {
		if d := it.Define; d != nil && d.Name == name && d.Value != nil {
			switch {
			case d.Value.String != nil:
				v, err := strconv.Unquote(*d.Value.String)
				return strings.TrimPrefix(v, "/"), err == nil
			case d.Value.Word != nil:
				return strings.TrimPrefix(*d.Value.Word, "/"), true
			}
		}
	}
	return "", false
}

// runAs is who PROGRAM runs as: --user, else the user who ran sudo, else
// nil (ksc's own user).
func runAs(name string) (*syscall.Credential, error) {
	if name == "" {
		uid, gid := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
		if uid == "" {
			return nil, nil
		}
		u, err := user.LookupId(uid)
		if err != nil {
			return credential(uid, gid, nil)
		}
		groups, _ := u.GroupIds()
		return credential(uid, gid, groups)
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("no user %s", name)
		}
	}
	groups, _ := u.GroupIds()
	return credential(u.Uid, u.Gid, groups)
}

func credential(uid, gid string, groups []string) (*syscall.Credential, error) {
	u, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user id %q: %w", uid, err)
	}
	g, err := strconv.ParseUint(gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("group id %q: %w", gid, err)
	}
	c := &syscall.Credential{Uid: uint32(u), Gid: uint32(g)}
	for _, s := range groups {
		if n, err := strconv.ParseUint(s, 10, 32); err == nil {
			c.Groups = append(c.Groups, uint32(n))
		}
	}
	return c, nil
}

// startIn is the command that starts program in the cgroup at path, as
// cred, and what to call once it has run.
func startIn(path string, cred *syscall.Credential, program []string) (*exec.Cmd, func(), error) {
	if slice, ok := systemdSlice(path); ok && systemdRuns() {
		cmd := exec.Command("systemd-run", systemdRunArgs(slice, cred, program)...)
		return cmd, func() {}, nil
	}
	made, err := cgroup.Make(path) // one below a matched cgroup
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(program[0], program[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	closeDir, err := cgroup.Into(cmd, path)
	if err != nil {
		return nil, nil, errors.Join(err, cgroup.Remove(made))
	}
	return cmd, func() {
		closeDir()
		// What PROGRAM left running keeps the cgroups it is in.
		_ = cgroup.Remove(made)
	}, nil
}

// systemdRuns reports a machine systemd runs (sd_booted).
func systemdRuns() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// systemdSlice is the slice unit whose cgroup path is: every name a
// slice, each below the one above it as systemd nests them
// ("ksc.slice/ksc-vpn.slice" is ksc-vpn.slice).
func systemdSlice(path string) (string, bool) {
	names := strings.Split(path, "/")
	prefix := ""
	for _, n := range names {
		base, ok := strings.CutSuffix(n, ".slice")
		if !ok || base == "" || base == "-" || !strings.HasPrefix(base, prefix) {
			return "", false
		}
		prefix = base + "-"
	}
	return names[len(names)-1], true
}

// systemdRunArgs starts program in a new scope of slice, as cred.
func systemdRunArgs(slice string, cred *syscall.Credential, program []string) []string {
	args := []string{"--scope", "--quiet", "--collect", "--slice=" + slice}
	if cred != nil {
		args = append(args, "--uid="+strconv.FormatUint(uint64(cred.Uid), 10), "--gid="+strconv.FormatUint(uint64(cred.Gid), 10))
	}
	return append(append(args, "--"), program...)
}
