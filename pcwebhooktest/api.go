package pcwebhooktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/capread"
	"github.com/partnercenter-go/pcwebhook/internal/guid"
)

// Paths of the registration API the fake serves.
const (
	apiRegistrationPath     = "/webhooks/v1/registration"
	apiEventsPath           = apiRegistrationPath + "/events"
	apiValidationEventsPath = apiRegistrationPath + "/validationEvents"
)

// API is a fake Partner Center webhook registration API, in the way httptest.Server is a fake
// server: point a pcwebhook.Client at [API.URL] (or take one from [API.NewClient]) and test code
// that registers, updates and validates a webhook. It keeps one registration, as Partner Center
// keeps one per partner account, and serves
//
//	GET  /webhooks/v1/registration                          the registration (404 when none)
//	POST /webhooks/v1/registration                          create it (409 when one exists)
//	PUT  /webhooks/v1/registration                          replace it (404 when none)
//	GET  /webhooks/v1/registration/events                   the supported event names
//	POST /webhooks/v1/registration/validationEvents         send a test event
//	GET  /webhooks/v1/registration/validationEvents/{id}    its delivery status
//
// with the wire shapes of the real service. A test event really goes out: the API posts a
// test-created event, signed by its [Sender] in the registration's header mode, to the registered
// WebhookUrl, and the status reports what the endpoint answered, so a receiver that trusts the
// Sender (see [Sender.Verifier]) is validated end to end. Its ResourceUri names the fake's own
// validationEvents/{id}, as the service's names its own.
//
// It also serves the resources events name, so that code acting on an event
// (pcwebhook.Client.GetResource) is tested against it: [API.SampleEvent] returns a sample event
// whose ResourceUri is on the fake's host, and a GET of any path shaped like a documented event's
// ResourceUri answers 200 with a JSON object holding the resource's "id" (the path's last
// segment) and its "links.self". [API.SetResource] sets the JSON of a resource, [API.Respond] a
// one-time answer (an error, a throttling) for it. Every request needs an
// "Authorization: Bearer" token (a given one with [WithAPIToken]). Answers echo the request's
// MS-CorrelationId and MS-RequestId headers, as the service does.
//
// For answers the service gives but the fake does not produce by itself (a delivery that failed
// before one succeeded, a system error, a body in an older shape), queue canned answers with
// [API.Respond] or [API.RespondFunc]; [API.FailNext] scripts failures; [API.Received] returns
// every request with its header and body.
//
// Create one with [NewAPI]; it is safe for concurrent use.
type API struct {
	srv       *httptest.Server
	sender    *Sender
	useTLS    bool
	token     string
	supported []pcwebhook.EventName

	ownSender bool // made by StartAPI: closed with the API

	ctx    context.Context // ends on Close: deliveries stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // deliveries in flight

	mu          sync.Mutex
	failures    []int                     // statuses of the next answers, from FailNext
	answers     map[string][]http.Handler // canned answers per "METHOD /path", from Respond
	resources   map[string]string         // JSON per path, from SetResource
	reg         *apiRegistration
	validations map[string]*apiValidation
	received    []APIRequest
}

// APIRequest is a request the [API] received, as [API.Received] returns it.
type APIRequest struct {
	Method string      // such as "POST"
	Path   string      // the URL path, such as "/webhooks/v1/registration"
	Header http.Header // the request's header
	Body   []byte      // the request's body; empty when it had none (a body over 1 MiB is answered 413, unrecorded)
}

// maxAPIRequestBody bounds a request body; a larger one is answered 413.
const maxAPIRequestBody = 1 << 20

// apiRegistration is the registration as the service returns it.
type apiRegistration struct {
	SubscriberID                      string   `json:"SubscriberId"`
	WebhookURL                        string   `json:"WebhookUrl"`
	WebhookEvents                     []string `json:"WebhookEvents"`
	SignatureTokenToMsSignatureHeader bool     `json:"SignatureTokenToMsSignatureHeader"`
	LastModifiedTimestamp             string   `json:"LastModifiedTimestamp"`
}

// apiValidation is a test event's delivery status as the service returns it.
type apiValidation struct {
	CorrelationID string                `json:"correlationId"`
	PartnerID     string                `json:"partnerId"`
	Status        string                `json:"status"`
	CallbackURL   string                `json:"callbackUrl"`
	Results       []apiValidationResult `json:"results"`
}

type apiValidationResult struct {
	ResponseCode    string `json:"responseCode"`
	ResponseMessage string `json:"responseMessage"`
	SystemError     bool   `json:"systemError"`
	DateTimeUTC     string `json:"dateTimeUtc"`
}

// apiError is the service's error body.
type apiError struct {
	Code        any    `json:"code"`
	Description string `json:"description"`
	ErrorName   string `json:"errorName"`
	IsRetryable bool   `json:"isRetryable"`
}

// The fake's partner.
const (
	apiSubscriberID = "e82cac64-dc67-4cd3-849b-78b6127dd57d"
	apiPartnerID    = "00234d9d-8c2d-4ff5-8c18-39f8afc6f7f3"
)

// APIOption configures an [API].
type APIOption func(*API)

// WithAPITLS serves the API over TLS, as Partner Center does, instead of plain HTTP on loopback
// (which pcwebhook.Client accepts for loopback hosts only). [API.Client] trusts its certificate.
func WithAPITLS() APIOption { return func(a *API) { a.useTLS = true } }

// WithAPIToken makes the API accept only "Authorization: Bearer <token>" (default: any
// non-empty bearer token). Other requests get 401.
func WithAPIToken(token string) APIOption { return func(a *API) { a.token = token } }

// WithSupportedEvents sets what GET .../events answers and what a registration may name
// (default: pcwebhook.KnownEventNames()).
func WithSupportedEvents(names ...pcwebhook.EventName) APIOption {
	return func(a *API) { a.supported = append([]pcwebhook.EventName(nil), names...) }
}

// NewAPI starts a fake registration API whose test events sender signs, and closes it when the
// test ends (tb.Cleanup). Test events are posted with the sender's client ([WithSendClient]).
// With a nil sender, NewAPI makes one whose client reaches plain HTTP endpoints and TLS
// endpoints started with httptest.NewTLSServer.
func NewAPI(tb testing.TB, sender *Sender, opts ...APIOption) *API {
	tb.Helper()
	if sender == nil {
		sender = New(tb, WithSendClient(httptestTLSClient()))
	}
	a := startAPI(sender, opts)
	tb.Cleanup(a.Close)
	return a
}

// StartAPI is [NewAPI] outside a test (an example, a local tool): it returns the started API, which
// the caller closes with [API.Close]. With a nil sender it makes one, as NewAPI does, and closes
// it with the API; the error is that of [NewSender].
func StartAPI(sender *Sender, opts ...APIOption) (*API, error) {
	own := sender == nil
	if own {
		var err error
		if sender, err = NewSender(WithSendClient(httptestTLSClient())); err != nil {
			return nil, err
		}
	}
	a := startAPI(sender, opts)
	a.ownSender = own
	return a, nil
}

// httptestTLSClient returns a client that trusts httptest's TLS certificate, so that test events
// reach endpoints started with httptest.NewTLSServer.
func httptestTLSClient() *http.Client {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	return tlsSrv.Client()
}

// startAPI starts the API's server.
func startAPI(sender *Sender, opts []APIOption) *API {
	a := &API{sender: sender, supported: pcwebhook.KnownEventNames(), validations: map[string]*apiValidation{},
		answers: map[string][]http.Handler{}, resources: map[string]string{}}
	for _, opt := range opts {
		if opt != nil {
			opt(a)
		}
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	if a.useTLS {
		a.srv.StartTLS()
	} else {
		a.srv.Start()
	}
	return a
}

// URL returns the API root, such as "http://127.0.0.1:41234", for pcwebhook.WithAPIRoot.
func (a *API) URL() string { return a.srv.URL }

// Client returns an http.Client for the API: with [WithAPITLS], one that trusts its certificate.
func (a *API) Client() *http.Client { return a.srv.Client() }

// Sender returns the Sender that signs the API's test events.
func (a *API) Sender() *Sender { return a.sender }

// NewClient returns a pcwebhook.Client that talks to this API (its URL, its HTTP client, and
// the API's token or "test-token"); opts are applied after those.
func (a *API) NewClient(opts ...pcwebhook.ClientOption) *pcwebhook.Client {
	token := a.token
	if token == "" {
		token = "test-token"
	}
	return pcwebhook.NewClient(pcwebhook.StaticToken(token),
		append([]pcwebhook.ClientOption{pcwebhook.WithAPIRoot(a.URL()), pcwebhook.WithClientHTTPClient(a.Client())}, opts...)...)
}

// Close stops the API and waits for test events in flight (which it cancels). It may be called
// more than once.
func (a *API) Close() {
	a.cancel()
	a.srv.Close()
	a.wg.Wait()
	if a.ownSender {
		a.sender.Close()
	}
}

// SampleEvent returns the documented sample of the event name, as [SampleEvent] does, with its
// ResourceUri on this API's host instead of Partner Center's, so that the API's client
// ([API.NewClient]) may GET it with pcwebhook.Client.GetResource, and this API serves it (see
// [API]). The same name always gives the same bytes. URIs on other hosts stay as documented:
// those of the GDAP events name partner.microsoft.com, which GetResource refuses as it does in
// production. For chosen IDs or dates, set [EventSpec].APIRoot to [API.URL].
func (a *API) SampleEvent(name pcwebhook.EventName) []byte {
	return EventSpec{Name: name, Time: sampleTime, APIRoot: a.URL()}.Body()
}

// SetResource makes every GET of the path of uri (an event's ResourceURI or AuditURI as it is,
// on any host, or a path such as "/v1/invoices/I-1") answer 200 with the JSON body, from now on,
// even for a path the API answers itself. An empty body removes it. [API.Respond] and
// [API.FailNext] take precedence.
func (a *API) SetResource(uri, body string) {
	path := apiPath(uri)
	a.mu.Lock()
	defer a.mu.Unlock()
	if body == "" {
		delete(a.resources, path)
		return
	}
	a.resources[path] = body
}

// apiPath returns the URL path of uri when it is an absolute URL, and uri otherwise.
func apiPath(uri string) string {
	uri = strings.TrimSpace(uri)
	if u, err := url.Parse(uri); err == nil && u.Scheme != "" && u.Host != "" {
		if u.Path == "" {
			return "/"
		}
		return u.Path
	}
	return uri
}

// Registration returns the current registration, as GET would; false when there is none.
func (a *API) Registration() (pcwebhook.Registration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reg == nil {
		return pcwebhook.Registration{}, false
	}
	reg := pcwebhook.Registration{
		SubscriberID:                      a.reg.SubscriberID,
		WebhookURL:                        a.reg.WebhookURL,
		SignatureTokenToMsSignatureHeader: a.reg.SignatureTokenToMsSignatureHeader,
	}
	reg.LastModified, _ = time.Parse(time.RFC3339Nano, a.reg.LastModifiedTimestamp)
	for _, e := range a.reg.WebhookEvents {
		reg.WebhookEvents = append(reg.WebhookEvents, pcwebhook.EventName(e))
	}
	return reg, true
}

// SetRegistration sets the registration, as if the partner had registered before the test
// (SubscriberID and LastModified are the API's).
func (a *API) SetRegistration(reg pcwebhook.Registration) {
	events := make([]string, 0, len(reg.WebhookEvents))
	for _, e := range reg.WebhookEvents {
		events = append(events, string(e))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reg = &apiRegistration{
		SubscriberID: apiSubscriberID, WebhookURL: reg.WebhookURL, WebhookEvents: events,
		SignatureTokenToMsSignatureHeader: reg.SignatureTokenToMsSignatureHeader,
		LastModifiedTimestamp:             time.Now().UTC().Format(time.RFC3339Nano),
	}
}

// Requests returns "METHOD /path" of every request the API received, in order.
func (a *API) Requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.received))
	for _, r := range a.received {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Received returns every request the API received, in order, with its header and body: to check
// what code under test sent (the token, a registration's exact JSON). The caller may modify the
// result.
func (a *API) Received() []APIRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]APIRequest, 0, len(a.received))
	for _, r := range a.received {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out = append(out, r)
	}
	return out
}

// Respond queues a canned answer: the next request for method and path (the URL path as
// [API.Requests] shows it, such as "/webhooks/v1/registration/validationEvents/c-1", or an
// absolute URL such as an event's ResourceURI, whose path is used) is answered
// with status and body instead of by the fake, and changes nothing in its state. Answers queued
// for the same method and path are used once each, in order; then the fake answers again. A
// non-empty body is sent as JSON. The token is checked first (a refused request uses no answer),
// and [API.FailNext] takes precedence.
//
// Use it for answers the service gives but the fake does not produce by itself: a validation
// status that is pending, then lists a failed attempt, then a successful one; a system error;
// a 201 with no body; a registration with properties.
func (a *API) Respond(method, path string, status int, body string) {
	a.RespondFunc(method, path, func(w http.ResponseWriter, _ *http.Request) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

// RespondFunc is [API.Respond] with a handler that writes the answer: for other headers (such
// as an MS-CorrelationId of the service's own, replacing the echoed one), a slow answer or a
// dropped connection. The handler runs once, on the API's server goroutine; the request's body
// can be read again.
func (a *API) RespondFunc(method, path string, h http.HandlerFunc) {
	key := strings.ToUpper(method) + " " + apiPath(path)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answers[key] = append(a.answers[key], h)
}

// FailNext makes the API answer each of the next requests, one per status given, with that
// status and the service's error body, before looking at anything else: to test how code copes
// with a refused token (401, 403), throttling (429) or an outage (500, 503). A 429 or 503 carries
// "Retry-After: 0", so a retrying client does not wait.
func (a *API) FailNext(statuses ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures = append(a.failures, statuses...)
}

// serve routes one request.
func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	body, err := capread.Read(r.Body, maxAPIRequestBody, r.ContentLength)
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "RequestEntityTooLarge",
			"The request body is unreadable or larger than the fake accepts: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	a.mu.Lock()
	a.received = append(a.received, APIRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	fail := 0
	if len(a.failures) > 0 {
		fail, a.failures = a.failures[0], a.failures[1:]
	}
	a.mu.Unlock()
	for _, name := range []string{"MS-CorrelationId", "MS-RequestId"} {
		if v := r.Header.Get(name); v != "" {
			w.Header().Set(name, v)
		}
	}
	if fail != 0 {
		if fail == http.StatusTooManyRequests || fail == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		name := strings.ReplaceAll(http.StatusText(fail), " ", "")
		writeAPIError(w, fail, name, name, "Failed by FailNext.")
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" || (a.token != "" && token != a.token) {
		writeAPIError(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", "The bearer token is missing or not valid.")
		return
	}
	key := r.Method + " " + r.URL.Path
	a.mu.Lock()
	var canned http.Handler
	if q := a.answers[key]; len(q) > 0 {
		canned, a.answers[key] = q[0], q[1:]
	}
	resource, isSet := a.resources[r.URL.Path]
	a.mu.Unlock()
	if canned != nil {
		canned.ServeHTTP(w, r)
		return
	}
	if isSet && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, resource)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == apiRegistrationPath && r.Method == http.MethodGet:
		a.getRegistration(w)
	case path == apiRegistrationPath && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		a.writeRegistration(w, r)
	case path == apiEventsPath && r.Method == http.MethodGet:
		names := make([]string, 0, len(a.supported))
		for _, n := range a.supported {
			names = append(names, string(n))
		}
		writeJSON(w, http.StatusOK, names)
	case path == apiValidationEventsPath && r.Method == http.MethodPost:
		a.sendTestEvent(w)
	case strings.HasPrefix(path, apiValidationEventsPath+"/") && r.Method == http.MethodGet:
		a.validationStatus(w, strings.TrimPrefix(path, apiValidationEventsPath+"/"))
	case path == apiRegistrationPath || path == apiEventsPath || strings.HasPrefix(path, apiValidationEventsPath):
		w.Header().Set("Allow", "GET, POST, PUT")
		writeAPIError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "MethodNotAllowed", r.Method+" is not supported here.")
	case r.Method == http.MethodGet && isSampleResourcePath(path):
		writeJSON(w, http.StatusOK, apiResource{ID: path[strings.LastIndexByte(path, '/')+1:],
			Links: apiResourceLinks{Self: apiLink{URI: path, Method: http.MethodGet, Headers: []string{}}}})
	default:
		writeAPIError(w, http.StatusNotFound, "NotFound", "NotFound", "No such resource.")
	}
}

func (a *API) getRegistration(w http.ResponseWriter) {
	a.mu.Lock()
	reg := a.reg
	a.mu.Unlock()
	if reg == nil {
		writeAPIError(w, http.StatusNotFound, 600008, "RegistrationNotFound", "The partner is not registered for webhooks.")
		return
	}
	writeJSON(w, http.StatusOK, reg)
}

// writeRegistration creates (POST) or replaces (PUT) the registration.
func (a *API) writeRegistration(w http.ResponseWriter, r *http.Request) {
	var in struct {
		WebhookURL                        string   `json:"WebhookUrl"`
		WebhookEvents                     []string `json:"WebhookEvents"`
		SignatureTokenToMsSignatureHeader bool     `json:"SignatureTokenToMsSignatureHeader"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil { // r.Body: the capped copy serve read
		writeAPIError(w, http.StatusBadRequest, "BadRequest", "BadRequest", "The body is not a registration: "+err.Error())
		return
	}
	if strings.TrimSpace(in.WebhookURL) == "" {
		writeAPIError(w, http.StatusBadRequest, "BadRequest", "BadRequest", "WebhookUrl is required.")
		return
	}
	for _, e := range in.WebhookEvents {
		if !a.supports(e) {
			writeAPIError(w, http.StatusBadRequest, "BadRequest", "InvalidWebhookEvent", fmt.Sprintf("%q is not a supported event.", e))
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && a.reg != nil:
		writeAPIError(w, http.StatusConflict, 600007, "RegistrationAlreadyExists", "A registration already exists for this partner. Use PUT to update it.")
		return
	case r.Method == http.MethodPut && a.reg == nil:
		writeAPIError(w, http.StatusNotFound, 600008, "RegistrationNotFound", "The partner is not registered for webhooks.")
		return
	}
	a.reg = &apiRegistration{
		SubscriberID: apiSubscriberID, WebhookURL: strings.TrimSpace(in.WebhookURL), WebhookEvents: in.WebhookEvents,
		SignatureTokenToMsSignatureHeader: in.SignatureTokenToMsSignatureHeader,
		LastModifiedTimestamp:             time.Now().UTC().Format(time.RFC3339Nano),
	}
	if a.reg.WebhookEvents == nil {
		a.reg.WebhookEvents = []string{}
	}
	writeJSON(w, http.StatusOK, a.reg)
}

// supports reports whether name is a supported event, in any letter case.
func (a *API) supports(name string) bool {
	for _, s := range a.supported {
		if strings.EqualFold(string(s), name) {
			return true
		}
	}
	return false
}

// sendTestEvent answers the correlation ID at once and delivers the test event meanwhile.
func (a *API) sendTestEvent(w http.ResponseWriter) {
	a.mu.Lock()
	reg := a.reg
	if reg == nil {
		a.mu.Unlock()
		writeAPIError(w, http.StatusNotFound, 600008, "RegistrationNotFound", "The partner is not registered for webhooks.")
		return
	}
	registered := false
	for _, e := range reg.WebhookEvents {
		registered = registered || strings.EqualFold(e, string(pcwebhook.EventTestCreated))
	}
	if !registered {
		a.mu.Unlock()
		writeAPIError(w, http.StatusBadRequest, "BadRequest", "TestEventNotRegistered", "The registration does not include test-created.")
		return
	}
	id, err := guid.New()
	if err != nil {
		a.mu.Unlock()
		writeAPIError(w, http.StatusInternalServerError, "InternalServerError", "InternalServerError", err.Error())
		return
	}
	v := &apiValidation{CorrelationID: id, PartnerID: apiPartnerID, Status: "pending", CallbackURL: reg.WebhookURL, Results: []apiValidationResult{}}
	a.validations[id] = v
	a.wg.Add(1)
	a.mu.Unlock()

	body := EventSpec{
		Name:        pcwebhook.EventTestCreated,
		ResourceURI: a.URL() + apiValidationEventsPath + "/" + id,
	}.Body()
	go a.deliver(v, reg.WebhookURL, reg.SignatureTokenToMsSignatureHeader, body)
	writeJSON(w, http.StatusOK, map[string]string{"correlationId": id})
}

// deliver posts the signed test event and records the answer.
func (a *API) deliver(v *apiValidation, url string, msHeader bool, body []byte) {
	defer a.wg.Done()
	res := apiValidationResult{}
	status, err := a.post(url, msHeader, body)
	res.DateTimeUTC = time.Now().UTC().Format("2006-01-02T15:04:05.0000000")
	if err != nil {
		res.ResponseCode, res.SystemError, res.ResponseMessage = "", true, "the endpoint could not be reached"
	} else {
		res.ResponseCode = strings.ReplaceAll(http.StatusText(status), " ", "") // .NET HttpStatusCode names
		if res.ResponseCode == "" {
			res.ResponseCode = fmt.Sprint(status)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	v.Results = append(v.Results, res)
	v.Status = "completed"
	if err != nil {
		v.Status = "failed"
	}
}

// post sends body to url signed by the sender in the given header mode.
func (a *API) post(url string, msHeader bool, body []byte) (int, error) {
	signer := a.sender.signer()
	signer.MSSignatureHeader = msHeader
	h, err := signer.Sign(body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = h
	resp, err := a.sender.sendClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func (a *API) validationStatus(w http.ResponseWriter, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.validations[id]
	if !ok {
		writeAPIError(w, http.StatusNotFound, "NotFound", "ValidationEventNotFound", "No test event has this correlation ID.")
		return
	}
	writeJSON(w, http.StatusOK, v) // under the lock: deliver appends to v
}

// apiResource is what a GET of an event's resource answers by default: its ID and self link, as
// Partner Center's resources carry them.
type apiResource struct {
	ID    string           `json:"id"`
	Links apiResourceLinks `json:"links"`
}

type apiResourceLinks struct {
	Self apiLink `json:"self"`
}

type apiLink struct {
	URI     string   `json:"uri"`
	Method  string   `json:"method"`
	Headers []string `json:"headers"`
}

// isSampleResourcePath reports whether path has the shape of the ResourceUri of a documented
// event on the Partner Center API host: the same segments, any value where the sample has an ID.
func isSampleResourcePath(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range samples {
		rest, ok := strings.CutPrefix(s.resourceURI, pcwebhook.GlobalAPIRoot+"/")
		if !ok {
			continue
		}
		want := strings.Split(rest, "/")
		if len(want) != len(segs) {
			continue
		}
		match := true
		for i, w := range want {
			if isGUID(w) && segs[i] != "" || strings.EqualFold(w, segs[i]) {
				continue
			}
			match = false
			break
		}
		if match {
			return true
		}
	}
	return false
}

func writeAPIError(w http.ResponseWriter, status int, code any, name, description string) {
	writeJSON(w, status, apiError{Code: code, Description: description, ErrorName: name, IsRetryable: status >= 500})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
