// Package labtest is the lab's side for tests: throwaway namespaces that
// live as long as a test (and are deleted when it ends, also when it
// fails), the check that a kernel test can run (Require), the guard that
// fails any test which changes the firewall of the namespace the tests
// run in, socket probes between namespaces, and the kill-switch topology
// the reference article's tests share. The namespaces themselves are the
// lab package's.
package labtest
