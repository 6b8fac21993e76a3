package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// delivery is one prepared request: everything is computed before the clock starts.
type delivery struct {
	body   []byte
	header http.Header
}

// drive posts deliveries to url from `workers` goroutines over keep-alive connections until
// `count` requests are done or `limit` has passed, whichever comes first. The i-th request sends
// next(i). It returns each request's latency and the status counts.
func drive(ctx context.Context, client *http.Client, url string, workers, count int, limit time.Duration, next func(int) delivery) ([]time.Duration, map[int]int, int, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var issued atomic.Int64
	var mu sync.Mutex
	status := map[int]int{}
	var lat []time.Duration
	errors := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, count/workers+1)
			localStatus := map[int]int{}
			localErrors := 0
			for ctx.Err() == nil {
				i := int(issued.Add(1)) - 1
				if i >= count {
					break
				}
				t0 := time.Now()
				code, err := post(ctx, client, url, next(i))
				if err != nil {
					if ctx.Err() == nil {
						localErrors++
					}
					continue
				}
				local = append(local, time.Since(t0))
				localStatus[code]++
			}
			mu.Lock()
			lat = append(lat, local...)
			for k, v := range localStatus {
				status[k] += v
			}
			errors += localErrors
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, status, errors, time.Since(start)
}

// post sends d to url, reads the whole answer and returns its status.
func post(ctx context.Context, client *http.Client, url string, d delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header = d.header
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
