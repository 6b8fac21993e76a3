// Package certcache holds the two small concurrency tools the certificate verifier is built on:
// a bounded least-recently-used cache whose entries are valid only inside a time window ([LRU]),
// and a single-flight group that runs one function per key no matter how many callers ask for it
// at once ([Group]).
//
// Both are generic and know nothing about certificates, so they can be tested on their own.
package certcache
