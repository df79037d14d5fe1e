package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"

	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
)

// senderEnv marks this program started again to send one packet from a
// cgroup (see sendFromCgroup): the sending's JSON on standard input.
const senderEnv = "KSC_LAB_SENDER"

func init() {
	if os.Getenv(senderEnv) != "1" {
		return
	}
	// The socket's owner is the thread's: one thread makes and sends.
	runtime.LockOSThread()
	var s sending
	err := json.NewDecoder(os.Stdin).Decode(&s)
	if err == nil {
		err = s.send()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// sendFromCgroup sends s from a process started in the cgroup at path
// (the root for ""), born in the calling thread's network namespace:
// this program again (senderEnv).
func sendFromCgroup(path string, s sending) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := json.Marshal(s)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), senderEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done, err := cgroup.Into(cmd, path)
	if err != nil {
		return err
	}
	defer done()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sending from cgroup %q: %w: %s", path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// holdCgroups makes the cgroups the policy matches and the block's
// packets come from, which must exist when the policy is loaded, and
// returns what removes the ones it made.
func holdCgroups(p *ir.Policy, b sim.TestBlock) (release func() error, err error) {
	paths := p.Cgroups()
	for _, x := range b.Expect {
		if c := x.Packet.Cgroup; c != "" && !slices.Contains(paths, c) {
			paths = append(paths, c)
		}
	}
	if len(paths) == 0 {
		return func() error { return nil }, nil
	}
	h, err := cgroup.Hold()
	if err != nil {
		return nil, err
	}
	if err := h.Make(paths...); err != nil {
		return nil, errors.Join(err, h.Release())
	}
	return h.Release, nil
}
