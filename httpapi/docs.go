package httpapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

// docsPage is the self-contained documentation page: inline CSS and JS, no
// external resources, so it works offline. It fetches SpecPath and renders
// the operations grouped by tag, with schemas and a "try it" form.
//
//go:embed docs.html
var docsPage []byte

// docsCSP forbids every external resource: the page only talks to its origin.
const docsCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

func serveDocs(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(docsPage)))
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(docsPage)
}
