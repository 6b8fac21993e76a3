// Package certcache holds the concurrency tools the certificate verifier is built on, generic and
// free of certificates so that they can be tested on their own:
//
//   - [Loader]: the whole cache sequence in front of a slow load that may fail (positive cache
//     with per-entry windows, failure cache, single flight, forced reloads at most once per
//     interval, known keys), used for both signing certificates and issuer certificates;
//   - [LRU]: a bounded least-recently-used cache whose entries are valid inside a time window;
//   - [Group]: a single-flight group that runs one function per key at a time and tells it when
//     every caller has stopped waiting;
//   - [Gate]: bounded concurrency with a bounded, two-class waiting queue.
package certcache
