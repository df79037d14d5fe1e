package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ksc-project/ksc/internal/safefile"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

// An intent is what ksc last meant to be in force in a namespace: a
// policy, as applied (its text, options and defines, so that it compiles
// the same again), or nothing, after "ksc remove". ksc apply, ksc remove,
// a rollback and ksc watch write it before they change the ruleset, and
// ksc watch keeps in force what it says: a running watch once put its
// old policy back 8 ms after the operator applied a tightened one, and
// undid "ksc remove" 2 ms after it.
type intent struct {
	// Removed says that nothing is to be in force.
	Removed bool     `json:"removed,omitempty"`
	Backend string   `json:"backend,omitempty"` // "nft" or "iptables"
	Path    string   `json:"path,omitempty"`    // the policy as given, for messages
	Dir     string   `json:"dir,omitempty"`     // where its file() sets are
	Source  []byte   `json:"source,omitempty"`
	Enable  []string `json:"enable,omitempty"`
	Defines []string `json:"defines,omitempty"`
	// By names the command that wrote it: "ksc apply[1234]".
	By string `json:"by"`
}

// policyIntent is the intent of putting p, loaded through pf, in force
// with backend.
func policyIntent(pf *policyFlags, p *ir.Policy, backend, cmd string) intent {
	dir := filepath.Dir(p.Source)
	if p.Source == "<stdin>" {
		dir = "."
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return intent{Backend: backend, Path: p.Source, Dir: dir, Source: pf.sources[p.Source],
		Enable: pf.enable, Defines: pf.defines, By: fmt.Sprintf("ksc %s[%d]", cmd, os.Getpid())}
}

// load compiles the intent's policy.
func (in intent) load() (*ir.Policy, error) {
	cfg := lang.Config{Enable: in.Enable, Dir: in.Dir}
	for _, d := range in.Defines {
		o, err := lang.ParseOverride(d)
		if err != nil {
			return nil, err
		}
		cfg.Defines = append(cfg.Defines, o)
	}
	p, ds := lang.Load(in.Path, in.Source, cfg)
	if ds.HasErrors() {
		return nil, fmt.Errorf("the policy %s, as %s applied it, no longer loads: %v", in.Path, in.By, ds)
	}
	return p, nil
}

func intentPath(netns string) (string, error) {
	key, err := namespaceKey(netns)
	if err != nil {
		return "", err
	}
	return filepath.Join(runDir, "intent-"+key+".json"), nil
}

// readIntent is the namespace's intent as written, and its bytes; nil
// bytes when none was.
func readIntent(netns string) (intent, []byte, error) {
	var in intent
	path, err := intentPath(netns)
	if err != nil {
		return in, nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return in, nil, nil
	}
	if err != nil {
		return in, nil, err
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return in, data, fmt.Errorf("%s: %w", path, err)
	}
	return in, data, nil
}

// writeIntent records in for the namespace, and returns what puts back
// the intent there was (after a failed change, a rollback).
func writeIntent(netns string, in intent) (restore func(), err error) {
	path, err := intentPath(netns)
	if err != nil {
		return nil, err
	}
	before, readErr := os.ReadFile(path)
	data, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	if err := safefile.Write(path, data, safefile.Options{}); err != nil {
		return nil, err
	}
	return func() { putIntent(path, before, readErr == nil) }, nil
}

// putIntent puts an intent file back as it was: data, or none.
func putIntent(path string, data []byte, existed bool) {
	if existed {
		safefile.Write(path, data, safefile.Options{})
	} else {
		os.Remove(path)
	}
}

// lockChanges holds, until released, the right to change the namespace's
// ruleset among ksc's processes: apply, remove and a rollback for their
// transactions, watch for its check and repair, so that watch never
// repairs between two transactions of one apply, nor against one.
func lockChanges(netns string) (release func(), err error) {
	key, err := namespaceKey(netns)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(runDir, "change-"+key+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// changeRuleset carries change out as ksc's change of the namespace's
// ruleset to what in says: holding the change lock, with in recorded
// first (so that a watch never puts the old back), and the old intent
// put back when change fails.
func changeRuleset(netns string, in intent, change func() error) error {
	release, err := lockChanges(netns)
	if err != nil {
		return err
	}
	defer release()
	restore, err := writeIntent(netns, in)
	if err != nil {
		return err
	}
	if err := change(); err != nil {
		restore()
		return err
	}
	return nil
}
