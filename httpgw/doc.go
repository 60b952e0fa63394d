// Package httpgw is Custos's HTTP gateway: a reverse proxy in front of
// back-office web applications and APIs that knows who the employee is,
// what each response reveals about whom, and how much of it that employee
// may see.
//
// For every request to a protected route the Gateway
//
//   - identifies the employee: a trusted SSO header (only from configured
//     proxy addresses), an OIDC bearer JWT verified with the identity
//     provider's JWKS, or Custos's own login page (password and TOTP) with
//     a signed session cookie; a request without identity never reaches
//     the upstream;
//   - applies the per-session rate limit and, when detection has raised
//     the employee's risk, asks for step-up;
//   - decides the request with the policy before forwarding it, with the
//     subjects its path or query names (need-to-know via has_relationship);
//   - inspects the response — JSON token by token, HTML and text, CSV and
//     XLSX downloads, gzip and deflate decoded and re-encoded — with the
//     catalogue's JSON paths and columns and the pii detectors, collects
//     the data types and subjects it reveals, decides again with them
//     (quotas count distinct subjects), masks in place without breaking
//     the document, and refuses deny and approval_required decisions with
//     a page or JSON that says how to ask for approval;
//   - appends one access event through ingest.Pipeline and releases the
//     response (or, for a streamed one, its last bytes) only once the event
//     is durable.
//
// WebSocket upgrades are recorded, then the application's text messages
// (and binary ones that are UTF-8) are inspected, decided, masked and
// recorded one by one as they pass, and the client's messages are decided
// with the subjects they name before the application sees them (ws.go). docs/httpgw.md is the user documentation, with the
// bypass suite's table of what is caught and what is not.
package httpgw
