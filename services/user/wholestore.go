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

// run calls h when no other whole-store read runs, else answers 429.
func (ws wholeStore) run(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case ws <- struct{}{}:
			defer func() { <-ws }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", wholeStoreRetryAfter)
			httpapi.WriteError(w, r, errWholeStoreBusy)
		}
	}
}
