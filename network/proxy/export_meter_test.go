package proxy

// TrustCounts is trustCounts for the tests in proxy_test.
func TrustCounts(p *Proxy, workerID string) (disagreements, strikes, canariesPassed, canariesFailed int64) {
	return trustCounts(p, workerID)
}
