package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/approval"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/store/sqlite"
)

// ---- login, language, logout

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, v *view) {
	tok := randomToken()
	c.setCookie(w, loginCookie, tok, 600)
	v.Title, v.CSRF = "title.login", tok
	v.D = c.oidc != nil // offer single sign-on
	c.render(w, http.StatusOK, "login", v)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request, v *view) {
	now := c.opt.Now()
	ck, _ := r.Cookie(loginCookie)
	form := r.PostFormValue("csrf")
	if ck == nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		c.fail(w, r, v, http.StatusForbidden, "err.csrf")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	ip := clientIP(r)
	v.User = name
	again := func(status int, key string) {
		tok := randomToken()
		c.setCookie(w, loginCookie, tok, 600)
		v.Title, v.CSRF, v.Error, v.User = "title.login", tok, key, ""
		v.D = c.oidc != nil
		c.render(w, status, "login", v)
	}
	if !c.limit.allowed("u:"+name, maxFailsPerAccount, now) || !c.limit.allowed("ip:"+ip, maxFailsPerIP, now) {
		c.audit(r, v, "login.limited", name, "", false)
		again(http.StatusTooManyRequests, "err.rate_limited")
		return
	}
	u, err := c.authenticate(r.Context(), name, r.PostFormValue("password"), r.PostFormValue("code"), now)
	if err != nil {
		if !errors.Is(err, errLogin) {
			c.internal(w, r, v, err)
			return
		}
		c.limit.fail("u:"+name, now)
		c.limit.fail("ip:"+ip, now)
		c.audit(r, v, "login.failed", name, "", false)
		again(http.StatusUnauthorized, "err.bad_login")
		return
	}
	c.limit.reset("u:" + name)
	tok, _, err := c.sess.create(r.Context(), u.Name, Role(u.Role), sourceLocal, now)
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	c.setCookie(w, sessionCookie, tok, int(c.opt.SessionTTL.Seconds()))
	c.setCookie(w, loginCookie, "", -1)
	v.Role = Role(u.Role)
	c.audit(r, v, "login", u.Name, "", true)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) setLang(w http.ResponseWriter, r *http.Request, v *view) {
	l := r.URL.Query().Get("to")
	if l != "en" && l != "zh-CN" {
		l = "en"
	}
	c.setCookie(w, langCookie, l, 365*24*3600)
	back := r.URL.Query().Get("back")
	// Only local console paths: never an open redirect.
	if !strings.HasPrefix(back, "/console/") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = "/console/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *view) {
	if ck, _ := r.Cookie(sessionCookie); ck != nil {
		if err := c.sess.delete(r.Context(), ck.Value); err != nil {
			c.internal(w, r, v, err)
			return
		}
	}
	c.setCookie(w, sessionCookie, "", -1)
	c.audit(r, v, "logout", v.User, "", true)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// ---- overview

type overviewData struct {
	Severities []sevCount
	Risky      []sqlite.ActorRisk
	Chart      chartSVG
	Sensors    []sensor
	Ledger     *ledgerStatus
	CanActors  bool
	CanAlerts  bool
}

type sevCount struct {
	Severity string
	N        int
}

type sensor struct {
	Channel  string
	LastHour time.Time
	Events   int64
	Active   bool
}

type ledgerStatus struct {
	Size       uint64
	Checkpoint string // first lines of the signed note: origin, size, root
	Err        string // message key
}

var severities = []string{"critical", "high", "medium", "low"}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	now := c.opt.Now().UTC()
	counts, err := c.store.AlertCounts(ctx, custos.AlertOpen)
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	d := overviewData{CanActors: Allowed(v.Role, PermActors), CanAlerts: Allowed(v.Role, PermAlerts)}
	for _, s := range severities {
		d.Severities = append(d.Severities, sevCount{s, counts[s]})
	}
	if d.Risky, err = c.store.RiskiestActors(ctx, 10); err != nil {
		c.internal(w, r, v, err)
		return
	}
	from := now.Truncate(time.Hour).Add(-47 * time.Hour)
	rows, err := c.store.ConsoleVolume(ctx, from, now.Add(time.Hour))
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	d.Chart = volumeChart(v.L, rows, from, 48)
	chans, err := c.store.ConsoleChannels(ctx)
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	for _, ch := range chans {
		d.Sensors = append(d.Sensors, sensor{ch.Channel, ch.LastHour, ch.Events, now.Sub(ch.LastHour) < 2*time.Hour})
	}
	if c.opt.Ledger != nil {
		d.Ledger = c.ledgerStatus(ctx)
	}
	v.Title, v.D = "title.overview", d
	c.render(w, http.StatusOK, "overview", v)
}

func (c *Console) ledgerStatus(ctx context.Context) *ledgerStatus {
	ls := &ledgerStatus{}
	size, err := c.opt.Ledger.Size(ctx)
	if err != nil {
		ls.Err = "err.ledger"
		return ls
	}
	ls.Size = size
	cp, err := c.opt.Ledger.Checkpoint(ctx)
	if err != nil {
		ls.Err = "ledger.no_checkpoint"
		return ls
	}
	lines := strings.SplitN(string(cp), "\n", 4)
	ls.Checkpoint = strings.Join(lines[:min(3, len(lines))], " · ")
	return ls
}

// ---- alerts

type alertsData struct {
	Alerts   []custos.AlertRecord
	Status   string
	Severity string
	Statuses []string
}

var statuses = []string{"open", "acknowledged", "resolved", "false_positive"}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, v *view) {
	q := custos.AlertQuery{Limit: 200}
	status := r.URL.Query().Get("status")
	if status == "" {
		status = "open"
	}
	if status != "all" {
		st, ok := custos.ParseAlertStatus(status)
		if !ok {
			c.fail(w, r, v, http.StatusBadRequest, "err.bad_request")
			return
		}
		q.Status = st
	}
	sev := r.URL.Query().Get("severity")
	if sev != "" && !slices.Contains(severities, sev) {
		c.fail(w, r, v, http.StatusBadRequest, "err.bad_request")
		return
	}
	q.Severity = sev
	list, err := c.store.Alerts(r.Context(), q)
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	v.Title, v.D = "title.alerts", alertsData{Alerts: list, Status: status, Severity: sev, Statuses: statuses}
	c.render(w, http.StatusOK, "alerts", v)
}

// alertDoc is the part of the detector's alert document the page shows.
type alertDoc struct {
	Evidence  []string `json:"evidence"`
	Subjects  []string `json:"subjects"`
	Threshold float64  `json:"threshold"`
	Observed  float64  `json:"observed"`
	Events    int      `json:"events"`
	Risk      float64  `json:"risk"`
}

type alertData struct {
	A        custos.AlertRecord
	Doc      alertDoc
	Timeline []timelineRow
	// SourceLogins are the logins from the alert's source address over
	// its span: for a credential-stuffing alert, every account tried and
	// whether one of them got in.
	SourceLogins []custos.StoredLogin
	Suspension   *sqlite.Suspension
	CanTriage    bool
	CanActors    bool
	Statuses     []string
}

type timelineRow struct {
	custos.StoredAccess
	Evidence bool
	Masked   string
}

func (c *Console) alert(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	a, err := c.store.Alert(ctx, r.PathValue("id"))
	if errors.Is(err, custos.ErrNotFound) {
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	d := alertData{A: a, CanTriage: Allowed(v.Role, PermTriage), CanActors: Allowed(v.Role, PermActors), Statuses: statuses[1:]}
	_ = json.Unmarshal(a.Doc, &d.Doc)
	if a.Actor != "" {
		evidence := map[string]bool{}
		for _, id := range d.Doc.Evidence {
			evidence[id] = true
		}
		// The actor's accesses over the alert's span: the evidence in context.
		acc, err := c.store.ActorAccesses(ctx, a.Actor, custos.Query{From: a.FirstSeen.Add(-time.Hour), To: a.LastSeen.Add(time.Hour), Limit: 100})
		if err != nil {
			c.internal(w, r, v, err)
			return
		}
		for _, e := range acc {
			d.Timeline = append(d.Timeline, timelineRow{StoredAccess: e, Evidence: evidence[e.ID], Masked: maskedSubjects(e.Subjects)})
		}
		if sp, err := c.store.Suspended(ctx, a.Actor); err == nil {
			d.Suspension = &sp
		}
	}
	if a.SourceIP != "" {
		d.SourceLogins, err = c.store.SourceLogins(ctx, a.SourceIP, custos.Query{From: a.FirstSeen.Add(-time.Hour), To: a.LastSeen.Add(time.Hour), Limit: 100})
		if err != nil {
			c.internal(w, r, v, err)
			return
		}
	}
	v.Title, v.D = "title.alert", d
	c.render(w, http.StatusOK, "alert", v)
}

func maskedSubjects(ss []custos.Subject) string {
	var out []string
	for _, s := range ss {
		if s.Masked != "" {
			out = append(out, s.Masked)
		} else if len(s.Hash) >= 8 {
			out = append(out, s.Type+":"+s.Hash[:8]+"…")
		}
		if len(out) == 3 && len(ss) > 3 {
			out = append(out, fmt.Sprintf("+%d", len(ss)-3))
			break
		}
	}
	return strings.Join(out, ", ")
}

func (c *Console) alertStatus(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	st, ok := custos.ParseAlertStatus(r.PostFormValue("status"))
	if !ok {
		c.fail(w, r, v, http.StatusBadRequest, "err.bad_request")
		return
	}
	err := c.store.SetAlertStatus(r.Context(), id, st)
	if errors.Is(err, custos.ErrNotFound) {
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	c.audit(r, v, "alert.status", id, string(st), true)
	http.Redirect(w, r, "/console/alerts/"+url.PathEscape(id)+"?done=1", http.StatusSeeOther)
}

// ---- actors

type actorData struct {
	Actor      string
	Accesses   []timelineRow
	Logins     []custos.StoredLogin
	Alerts     []custos.AlertRecord
	Approvals  []approval.Request
	Chart      chartSVG
	Baseline   float64
	Suspension *sqlite.Suspension
	CanTriage  bool
}

func (c *Console) actor(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := c.opt.Now().UTC()
	d := actorData{Actor: id, CanTriage: Allowed(v.Role, PermTriage)}
	acc, err := c.store.ActorAccesses(ctx, id, custos.Query{Limit: 50})
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	for _, e := range acc {
		d.Accesses = append(d.Accesses, timelineRow{StoredAccess: e, Masked: maskedSubjects(e.Subjects)})
	}
	if d.Logins, err = c.store.AccountLogins(ctx, id, custos.Query{Limit: 20}); err != nil {
		c.internal(w, r, v, err)
		return
	}
	if d.Alerts, err = c.store.Alerts(ctx, custos.AlertQuery{Actor: id, Limit: 20}); err != nil {
		c.internal(w, r, v, err)
		return
	}
	if c.opt.Approvals != nil {
		for _, q := range c.opt.Approvals.List(ctx, approval.Identity{ID: id}, "") {
			if q.Requester == id {
				d.Approvals = append(d.Approvals, q)
			}
		}
	}
	from := now.Truncate(24*time.Hour).AddDate(0, 0, -27)
	days, err := c.store.ConsoleActorDays(ctx, id, from, now.Add(24*time.Hour))
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	d.Chart, d.Baseline = actorChart(v.L, days, from, 28)
	if sp, err := c.store.Suspended(ctx, id); err == nil {
		d.Suspension = &sp
	}
	c.audit(r, v, "actor.view", id, "", true)
	v.Title, v.D = "title.actor", d
	c.render(w, http.StatusOK, "actor", v)
}

func (c *Console) suspend(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len([]rune(reason)) < 5 || len(reason) > 500 {
		c.fail(w, r, v, http.StatusBadRequest, "err.reason")
		return
	}
	if err := c.store.SuspendActor(r.Context(), sqlite.Suspension{Actor: id, By: v.User, Reason: reason, Time: c.opt.Now()}); err != nil {
		c.internal(w, r, v, err)
		return
	}
	c.audit(r, v, "actor.suspend", id, reason, true)
	back := "/console/actors/" + url.PathEscape(id)
	if a := r.PostFormValue("alert"); a != "" {
		back = "/console/alerts/" + url.PathEscape(a)
	}
	http.Redirect(w, r, back+"?done=1", http.StatusSeeOther)
}

func (c *Console) unsuspend(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	err := c.store.LiftSuspension(r.Context(), id)
	if errors.Is(err, sqlite.ErrNotFound) {
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	c.audit(r, v, "actor.unsuspend", id, "", true)
	http.Redirect(w, r, "/console/actors/"+url.PathEscape(id)+"?done=1", http.StatusSeeOther)
}

// ---- subjects

// searchTypes are the identifiers the subject search offers.
var searchTypes = []string{custos.TypeCNID, custos.TypeCNMobile, custos.TypeCNName, custos.TypeEmail, custos.TypeCNPassport, custos.TypeBankCard, custos.TypeFlightPNR, custos.TypeIntlPhone}

type subjectData struct {
	Types    []string
	Searched bool
	Type     string
	Masked   string
	Rows     []subjectRow
	Ledger   bool
	Problem  string // message key
}

type subjectRow struct {
	custos.StoredAccess
	Proof *proofInfo
}

type proofInfo struct {
	Leaf, Size uint64
}

func (c *Console) subjectsPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.D = "title.subjects", subjectData{Types: searchTypes, Type: custos.TypeCNID}
	c.render(w, http.StatusOK, "subjects", v)
}

// subjectSearch answers "who looked at this person". The identifier comes
// in a POST body (never a URL, which browsers and proxies log), is hashed
// with the blind index, and the search itself is stored as an access event
// — durable before any result is shown.
func (c *Console) subjectSearch(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	typ := r.PostFormValue("type")
	value := r.PostFormValue("value")
	purpose := strings.TrimSpace(r.PostFormValue("purpose"))
	ticket := strings.TrimSpace(r.PostFormValue("ticket"))
	d := subjectData{Types: searchTypes, Type: typ, Ledger: c.opt.Ledger != nil}
	v.Title = "title.subjects"
	bad := func(key string) {
		d.Problem = key
		v.D = d
		c.render(w, http.StatusBadRequest, "subjects", v)
	}
	if !slices.Contains(searchTypes, typ) || strings.TrimSpace(value) == "" {
		bad("err.search_value")
		return
	}
	if len(purpose) < 3 || len(purpose) > 200 || len(ticket) > 100 {
		bad("err.purpose")
		return
	}
	hash, err := c.opt.Index.Hash(typ, value)
	if err != nil {
		bad("err.search_value")
		return
	}
	ev := custos.AccessEvent{
		ID:         "console-" + randomToken()[:22],
		Time:       c.opt.Now().UTC(),
		Actor:      custos.Actor{ID: v.User, Roles: []string{"console_" + string(v.Role)}},
		Source:     custos.Source{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 200)},
		Channel:    custos.ChannelConsole,
		Action:     custos.ActionSearch,
		Resource:   custos.Resource{System: "custos", Object: "subject_history"},
		Purpose:    custos.Purpose{Name: purpose, Ticket: ticket},
		Subjects:   []custos.Subject{{Type: typ, Value: value}},
		DataTypes:  []string{typ},
		Categories: []string{custos.CategoryOf(typ)},
		Records:    1,
	}
	evs := []custos.AccessEvent{ev}
	if _, err := c.opt.Pipeline.Access(ctx, evs); err != nil {
		var be *ingest.BatchError
		if errors.As(err, &be) {
			bad("err.search_value")
			return
		}
		c.internal(w, r, v, err)
		return
	}
	d.Masked = evs[0].Subjects[0].Masked
	if d.Masked == "" {
		d.Masked = mask.Partial(typ, value)
	}
	c.audit(r, v, "subject.search", typ+" "+d.Masked, purpose+" "+ticket, true)
	rows, err := c.store.SubjectAccesses(ctx, typ, hash, custos.Query{Limit: 100})
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	var proofs map[string]ledgerProof
	if c.opt.Ledger != nil && len(rows) > 0 {
		ids := make([]string, len(rows))
		for i, e := range rows {
			ids[i] = e.ID
		}
		if ps, err := c.opt.Ledger.Proofs(ctx, ids); err == nil {
			proofs = map[string]ledgerProof{}
			for id, p := range ps {
				proofs[id] = ledgerProof{p.LeafIndex, p.TreeSize}
			}
		}
	}
	for _, e := range rows {
		row := subjectRow{StoredAccess: e}
		if p, ok := proofs[e.ID]; ok {
			row.Proof = &proofInfo{Leaf: p.leaf, Size: p.size}
		}
		d.Rows = append(d.Rows, row)
	}
	d.Searched = true
	v.D = d
	c.render(w, http.StatusOK, "subjects", v)
}

type ledgerProof struct{ leaf, size uint64 }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ---- approvals

type approvalsData struct {
	Enabled bool
	Pending []approval.Request
	Recent  []approval.Request
}

func (c *Console) identity(v *view) approval.Identity {
	return approval.Identity{ID: v.User, Roles: []string{string(v.Role)}}
}

func (c *Console) approvals(w http.ResponseWriter, r *http.Request, v *view) {
	d := approvalsData{Enabled: c.opt.Approvals != nil}
	if d.Enabled {
		for _, q := range c.opt.Approvals.List(r.Context(), c.identity(v), "") {
			if q.Status == "pending" && q.Requester != v.User {
				d.Pending = append(d.Pending, q)
			} else if len(d.Recent) < 50 {
				d.Recent = append(d.Recent, q)
			}
		}
	}
	v.Title, v.D = "title.approvals", d
	c.render(w, http.StatusOK, "approvals", v)
}

func (c *Console) approvalAction(w http.ResponseWriter, r *http.Request, v *view) {
	if c.opt.Approvals == nil {
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	id, verb := r.PathValue("id"), r.PathValue("verb")
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	var err error
	switch verb {
	case "approve":
		_, err = c.opt.Approvals.Approve(r.Context(), c.identity(v), id, comment)
	case "deny":
		_, err = c.opt.Approvals.Deny(r.Context(), c.identity(v), id, comment)
	default:
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	switch {
	case errors.Is(err, approval.ErrNotFound):
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	case errors.Is(err, approval.ErrSelfApproval), errors.Is(err, approval.ErrNotApprover):
		c.audit(r, v, "approval."+verb, id, "refused", false)
		c.fail(w, r, v, http.StatusForbidden, "err.not_approver")
		return
	case errors.Is(err, approval.ErrNotPending), errors.Is(err, approval.ErrTwice):
		c.fail(w, r, v, http.StatusConflict, "err.not_pending")
		return
	case err != nil:
		c.internal(w, r, v, err)
		return
	}
	c.audit(r, v, "approval."+verb, id, comment, true)
	http.Redirect(w, r, "/console/approvals?done=1", http.StatusSeeOther)
}

// ---- policy, audit, users

type policyData struct {
	PolicyFile, CatalogFile string
	Policy, Catalog         string
	Categories              []categoryRow
}

type categoryRow struct {
	Category  string
	Sensitive bool
	Types     []string
}

func (c *Console) policy(w http.ResponseWriter, r *http.Request, v *view) {
	d := policyData{PolicyFile: c.opt.PolicyFile, CatalogFile: c.opt.CatalogFile}
	read := func(path string) string {
		if path == "" {
			return ""
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "# " + err.Error()
		}
		return string(b)
	}
	d.Policy, d.Catalog = read(c.opt.PolicyFile), read(c.opt.CatalogFile)
	byCat := map[string][]string{}
	for _, t := range custos.DataTypes {
		cat := custos.CategoryOf(t)
		byCat[cat] = append(byCat[cat], t)
	}
	for _, cat := range custos.Categories {
		d.Categories = append(d.Categories, categoryRow{cat, custos.Sensitive(cat), byCat[cat]})
	}
	v.Title, v.D = "title.policy", d
	c.render(w, http.StatusOK, "policy", v)
}

type auditData struct {
	Entries []sqlite.ConsoleAuditEntry
	User    string
	Next    int64
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, v *view) {
	user := r.URL.Query().Get("user")
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	es, err := c.store.ConsoleAudit(r.Context(), user, before, 100)
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	d := auditData{Entries: es, User: user}
	if len(es) == 100 {
		d.Next = es[len(es)-1].Seq
	}
	v.Title, v.D = "title.audit", d
	c.render(w, http.StatusOK, "audit", v)
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, v *view) {
	us, err := c.store.ConsoleUsers(r.Context())
	if err != nil {
		c.internal(w, r, v, err)
		return
	}
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	type row struct {
		Name, Role string
		Disabled   bool
		Created    time.Time
	}
	var rows []row
	for _, u := range us {
		rows = append(rows, row{u.Name, u.Role, u.Disabled, u.Created})
	}
	v.Title, v.D = "title.users", rows
	c.render(w, http.StatusOK, "users", v)
}
