// Package e2e proves the kill switch end to end: a real OpenVPN client and
// server in network namespaces, the rules loaded every way ksc can load
// them, and packets counted where they arrive.
//
// It has only tests (and their helpers); "make e2e" runs it alone.
package e2e
