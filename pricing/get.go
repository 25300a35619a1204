package pricing

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// noRedirectClient is the HTTP feeds' default client: a provider's redirect
// is answered as it is (a status other than 200, so an error), never
// followed to another host.
func noRedirectClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// statusError is a provider's answer other than 200 OK.
type statusError struct {
	url    string
	code   int
	header http.Header
}

func (e *statusError) Error() string { return fmt.Sprintf("%s: status %d", e.url, e.code) }

// getJSON GETs url, accepting JSON, with the extra request headers, and
// returns the body of a 200 answer of at most maxBody bytes. Any other
// status is a *statusError (its body is drained, at most 4 KiB, so that the
// connection is reused); a larger body is an error. Errors name url (and
// never a header's value: API keys travel in headers).
func getJSON(ctx context.Context, client *http.Client, url string, header map[string]string, maxBody int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // a *url.Error: it names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &statusError{url: url, code: resp.StatusCode, header: resp.Header}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read body: %w", url, err)
	}
	if int64(len(body)) > maxBody {
		return nil, fmt.Errorf("%s: body larger than %d bytes", url, maxBody)
	}
	return body, nil
}
