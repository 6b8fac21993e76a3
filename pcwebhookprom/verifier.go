package pcwebhookprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnercenter-go/pcwebhook"
)

// The verifier's metric names.
const (
	// VerifierVerificationsTotal counts Verify calls, by result ("verified" or "rejected").
	VerifierVerificationsTotal = "pcwebhook_verifier_verifications_total"
	// VerifierCacheHitsTotal counts Verify calls that found the certificate's key in the cache.
	VerifierCacheHitsTotal = "pcwebhook_verifier_cache_hits_total"
	// VerifierFailureCacheHitsTotal counts Verify calls answered from the failure cache.
	VerifierFailureCacheHitsTotal = "pcwebhook_verifier_failure_cache_hits_total"
	// VerifierDownloadsTotal counts certificate downloads, by kind ("certificate" for the
	// signing certificate's URL, "issuer" for an issuer's AIA URL).
	VerifierDownloadsTotal = "pcwebhook_verifier_downloads_total"
	// VerifierDownloadFailuresTotal counts downloads that failed.
	VerifierDownloadFailuresTotal = "pcwebhook_verifier_download_failures_total"
	// VerifierDownloadedBytesTotal counts the body bytes read by all downloads.
	VerifierDownloadedBytesTotal = "pcwebhook_verifier_downloaded_bytes_total"
	// VerifierDownloadsQueueFullTotal counts downloads refused because every download slot was
	// taken and the queue was full.
	VerifierDownloadsQueueFullTotal = "pcwebhook_verifier_downloads_queue_full_total"
	// VerifierRotationChecksTotal counts certificate downloads made because a signature did not
	// match a cached key.
	VerifierRotationChecksTotal = "pcwebhook_verifier_rotation_checks_total"
	// VerifierUnconfirmedSignaturesTotal counts Verify calls whose signature matched no cached
	// key and could not be confirmed by a fresh download (pcwebhook.ErrSignatureUnconfirmed).
	VerifierUnconfirmedSignaturesTotal = "pcwebhook_verifier_unconfirmed_signatures_total"
	// VerifierPreviousKeyMatchesTotal counts signatures that matched the previous key of a
	// certificate URL, kept through a rotation.
	VerifierPreviousKeyMatchesTotal = "pcwebhook_verifier_previous_key_matches_total"
	// VerifierMemoHitsTotal counts verifications answered from the memo of verified deliveries:
	// exact repeats (replays, retries) that skipped the RSA operation.
	VerifierMemoHitsTotal = "pcwebhook_verifier_memo_hits_total"
	// VerifierCachedCertificates is the number of certificate keys in the cache.
	VerifierCachedCertificates = "pcwebhook_verifier_cached_certificates"
)

// verifierDescs are the descriptions of a verifier's metrics; they are the same for every
// Verifier.
var verifierDescs = struct {
	verifications, cacheHits, failureCacheHits, downloads, downloadFailures,
	downloadedBytes, queueFull, rotationChecks, unconfirmed, previousKey, memoHits, cached *prometheus.Desc
}{
	verifications: prometheus.NewDesc(VerifierVerificationsTotal,
		"Signature verifications of Partner Center webhook requests, by result (verified or rejected).", []string{"result"}, nil),
	cacheHits: prometheus.NewDesc(VerifierCacheHitsTotal,
		"Verifications that found the signing certificate's key in the cache.", nil, nil),
	failureCacheHits: prometheus.NewDesc(VerifierFailureCacheHitsTotal,
		"Verifications answered from the cache of failed downloads, without downloading.", nil, nil),
	downloads: prometheus.NewDesc(VerifierDownloadsTotal,
		"HTTP requests made for certificates, by kind (certificate: the signing certificate's URL; issuer: an issuer's AIA URL).", []string{"kind"}, nil),
	downloadFailures: prometheus.NewDesc(VerifierDownloadFailuresTotal,
		"Certificate downloads that failed: network error, timeout, status other than 200, redirect, or too large.", nil, nil),
	downloadedBytes: prometheus.NewDesc(VerifierDownloadedBytesTotal,
		"Body bytes read by all certificate downloads.", nil, nil),
	queueFull: prometheus.NewDesc(VerifierDownloadsQueueFullTotal,
		"Certificate downloads refused at once because every download slot was taken and the queue was full.", nil, nil),
	rotationChecks: prometheus.NewDesc(VerifierRotationChecksTotal,
		"Certificate downloads made because a signature did not match the cached key (a certificate rotation, or a forged request).", nil, nil),
	unconfirmed: prometheus.NewDesc(VerifierUnconfirmedSignaturesTotal,
		"Verifications whose signature matched no cached key and could not be confirmed by a fresh download now (answered 503 signature-unconfirmed).", nil, nil),
	previousKey: prometheus.NewDesc(VerifierPreviousKeyMatchesTotal,
		"Signatures that matched the previous key of a certificate URL, kept through a certificate rotation.", nil, nil),
	memoHits: prometheus.NewDesc(VerifierMemoHitsTotal,
		"Verifications answered from the memo of verified deliveries: exact repeats of a delivery verified before with the same cached key, which skipped the RSA operation.", nil, nil),
	cached: prometheus.NewDesc(VerifierCachedCertificates,
		"Certificate keys in the verifier's cache now.", nil, nil),
}

// verifierCollector reads a Verifier's counters when it is scraped.
type verifierCollector struct{ v *pcwebhook.Verifier }

// NewVerifierCollector returns a Collector of v's counters (pcwebhook.Verifier.Stats), read at
// each scrape: nothing runs between scrapes. Register it once per registry:
//
//	reg.MustRegister(pcwebhookprom.NewVerifierCollector(verifier))
//
// The Handler's default Verifier is not reachable: build the Verifier with pcwebhook.NewVerifier
// and give it to the Handler with pcwebhook.WithVerifier. For several Verifiers in one registry,
// register each through prometheus.WrapRegistererWith with a label that tells them apart.
func NewVerifierCollector(v *pcwebhook.Verifier) prometheus.Collector {
	return verifierCollector{v: v}
}

// Describe sends the descriptions of the verifier's metrics.
func (c verifierCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &verifierDescs
	for _, desc := range [...]*prometheus.Desc{d.verifications, d.cacheHits, d.failureCacheHits, d.downloads,
		d.downloadFailures, d.downloadedBytes, d.queueFull, d.rotationChecks, d.unconfirmed, d.previousKey, d.memoHits, d.cached} {
		ch <- desc
	}
}

// Collect sends the verifier's counters as they are now.
func (c verifierCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.v.Stats()
	d := &verifierDescs
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	counter(d.verifications, st.Verified, "verified")
	counter(d.verifications, st.Rejected, "rejected")
	counter(d.cacheHits, st.CacheHits)
	counter(d.failureCacheHits, st.FailureCacheHits)
	counter(d.downloads, st.CertificateDownloads, "certificate")
	counter(d.downloads, st.IssuerDownloads, "issuer")
	counter(d.downloadFailures, st.DownloadFailures)
	counter(d.downloadedBytes, st.BytesDownloaded)
	counter(d.queueFull, st.QueueFull)
	counter(d.rotationChecks, st.RotationChecks)
	counter(d.unconfirmed, st.UnconfirmedSignatures)
	counter(d.previousKey, st.PreviousKeyMatches)
	counter(d.memoHits, st.MemoHits)
	ch <- prometheus.MustNewConstMetric(d.cached, prometheus.GaugeValue, float64(st.CachedCertificates))
}
