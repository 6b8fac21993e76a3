package pcwebhook

import "io"

// readCapped reads r up to max bytes, with io.LimitReader(max+1) and a length check; certificate
// downloads and API responses use it (the Handler's readBody does the same with a buffer sized
// from Content-Length). tooLarge reports that r had more; the first max bytes are returned then.
func readCapped(r io.Reader, max int64) (data []byte, tooLarge bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, max+1))
	if int64(len(data)) > max {
		return data[:max], true, nil
	}
	return data, false, err
}
