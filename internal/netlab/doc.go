// Package netlab builds throwaway network namespaces on documentation
// addresses and sends real packets through them, for ksc's kernel tests.
//
// Nothing here touches the namespace the tests run in: every ruleset is
// loaded into a namespace the lab created, and every namespace is deleted
// when the test ends, also when it fails.
package netlab
