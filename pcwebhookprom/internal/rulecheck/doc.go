// Package rulecheck checks the operator kit shipped in docs/ against the metrics pcwebhookprom
// exposes: the alerting rules parse with Prometheus's own rule parser, every metric the rules
// and the Grafana dashboard query exists, and each alert's expression, evaluated by
// Prometheus's engine, fires on series that show its trouble and not on a healthy receiver's. It is a module of its own so that the
// Prometheus server's packages stay out of pcwebhookprom's dependencies; it has only tests.
//
// The files it reads are outside this module, where go test's cache does not look: run it with
// -count=1 (as CI does) after changing them.
package rulecheck
