package user

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// errWholeStoreBusy answers a whole-store read while another one runs.
var errWholeStoreBusy = apperr.New(apperr.RateLimited,
	"another whole-store read (ledger verification or the analytics summary) is running; try again when it ends")

// wholeStoreRetryAfter is the Retry-After, in seconds, of errWholeStoreBusy.
const wholeStoreRetryAfter = "5"

// wholeStore admits one whole-store read at a time in this process: the
// ledger verification and the analytics summary page through every user's
// records, so their time grows with the store; run in parallel, their
// memory would add up too. A request that finds one running is answered 429
// with Retry-After at once instead of waiting.
type wholeStore chan struct{}

func newWholeStore() wholeStore { return make(wholeStore, 1) }

// oneAtATime adapts h to run when no other whole-store read of ws runs;
// otherwise the request is answered 429 with Retry-After at once.
func oneAtATime[In, Out any](ws wholeStore, h func(*http.Request, *In) (Out, error)) func(*http.Request, *In) (Out, error) {
	return func(r *http.Request, in *In) (Out, error) {
		select {
		case ws <- struct{}{}:
			defer func() { <-ws }()
			return h(r, in)
		default:
			var zero Out
			return zero, httpapi.WithHeader(errWholeStoreBusy, "Retry-After", wholeStoreRetryAfter)
		}
	}
}
