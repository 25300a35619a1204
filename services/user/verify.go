package user

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/verify"
)

// VerifyResponse is the ledger check of a running store.
type VerifyResponse struct {
	OK bool `json:"ok"`
	verify.Report
}

func (s *Service) registerVerify(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/admin/verify", OperationID: "verifyLedger",
		Summary: "Check every ledger invariant on the running store", Tags: []string{"admin"}, Auth: httpapi.AuthAdmin,
		Description: "Reads every user's balances, ledger, holdings, movements and orders through the DAOs. " +
			"Each user is read while orders keep running, so a violation seen during heavy traffic should be confirmed " +
			"by a second run (or by `orderprocessor verify --data-dir` on a stopped store). " +
			"One whole-store read (this or the analytics summary) runs at a time: another is answered 429 with Retry-After.",
		Errors: []int{http.StatusTooManyRequests}}, oneAtATime(s.whole, s.verifyLedger))
}

func (s *Service) verifyLedger(r *http.Request, _ *struct{}) (VerifyResponse, error) {
	rep, err := s.trade.Verify(r.Context())
	if err != nil {
		return VerifyResponse{}, err
	}
	return VerifyResponse{OK: rep.OK(), Report: rep}, nil
}
