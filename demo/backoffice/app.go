package backoffice

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/custos-dev/custos/sim"
)

//go:embed templates/*.html static/*
var assets embed.FS

// ActorHeader is the header the gateway sets to the signed-in employee;
// RolesHeader carries the employee's roles (comma-separated). The app
// only displays them.
const (
	ActorHeader = "X-Custos-Actor"
	RolesHeader = "X-Custos-Roles"
)

// MaxResults caps a search's result list.
const MaxResults = 50

// Passenger is one passenger record, as the API returns it.
type Passenger struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Pinyin    string `json:"name_pinyin"`
	Gender    string `json:"gender"`
	CNID      string `json:"cn_id"`
	BirthDate string `json:"birth_date"`
	Mobile    string `json:"mobile"`
	Email     string `json:"email"`
	FFP       string `json:"ffp_number"`
	Tier      string `json:"tier,omitempty"`
}

// Booking is one flight segment of a PNR.
type Booking struct {
	PNR         string `json:"pnr"`
	Flight      string `json:"flight"`
	Date        string `json:"date"`
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
	Seat        string `json:"seat"`
	Cabin       string `json:"cabin"`
	Status      string `json:"status"`
}

// Flight is a scheduled daily flight.
type Flight struct {
	Flight      string `json:"flight"`
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
	Departs     string `json:"departs"`
	Arrives     string `json:"arrives"`
	Aircraft    string `json:"aircraft"`
}

// ManifestEntry is one passenger on a flight's manifest.
type ManifestEntry struct {
	Seat      string `json:"seat"`
	PNR       string `json:"pnr"`
	Name      string `json:"name"`
	Pinyin    string `json:"name_pinyin"`
	CNID      string `json:"cn_id"`
	Mobile    string `json:"mobile"`
	FFP       string `json:"ffp_number"`
	Cabin     string `json:"cabin"`
	Status    string `json:"status"`
	Passenger int64  `json:"passenger_id"`
}

// App is the back office: an http.Handler over the dataset.
type App struct {
	db    *sql.DB
	opt   Options
	tmpl  *template.Template
	mux   *http.ServeMux
	count int64
	// Log receives request errors (never personal data); nil discards.
	Log *slog.Logger
}

func newApp(db *sql.DB, opt Options) *App {
	a := &App{db: db, opt: opt, mux: http.NewServeMux()}
	a.tmpl = template.Must(template.ParseFS(assets, "templates/*.html"))
	db.QueryRow(`SELECT count(*) FROM passengers`).Scan(&a.count)
	static, _ := fs.Sub(assets, "static")
	a.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	a.mux.HandleFunc("GET /{$}", a.home)
	a.mux.HandleFunc("GET /passengers", a.searchPage)
	a.mux.HandleFunc("GET /passengers/{id}", a.passengerPage)
	a.mux.HandleFunc("GET /flights/{flight}/{date}", a.manifestPage)
	a.mux.HandleFunc("GET /api/passengers", a.searchAPI)
	a.mux.HandleFunc("GET /api/passengers/{id}", a.passengerAPI)
	a.mux.HandleFunc("GET /api/flights", a.flightsAPI)
	a.mux.HandleFunc("GET /api/flights/{flight}/{date}/manifest", a.manifestAPI)
	a.mux.HandleFunc("GET /export/manifest.csv", a.manifestCSV)
	a.mux.HandleFunc("GET /export/manifest.xlsx", a.manifestXLSX)
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return a
}

// ServeHTTP serves the pages, the API and the exports.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Close closes the database.
func (a *App) Close() error { return a.db.Close() }

// Passengers is the number of passengers in the dataset; their ids are
// 1..Passengers.
func (a *App) Passengers() int64 { return a.count }

// Today is the day the dataset's bookings are generated around.
func (a *App) Today() time.Time { return a.opt.Today }

// Flights lists the schedule (every flight operates daily).
func Flights() []Flight {
	var out []Flight
	for _, f := range flights() {
		out = append(out, Flight(f))
	}
	return out
}

const passengerCols = `id, name, name_pinyin, gender, cn_id, birth_date, mobile, email, ffp, tier`

func scanPassenger(s interface{ Scan(...any) error }) (Passenger, error) {
	var p Passenger
	err := s.Scan(&p.ID, &p.Name, &p.Pinyin, &p.Gender, &p.CNID, &p.BirthDate, &p.Mobile, &p.Email, &p.FFP, &p.Tier)
	return p, err
}

// query is a passenger search: free text (name, pinyin, FFP number, PNR,
// e-mail), ID number, phone.
type query struct{ Q, IDNo, Phone string }

func (q query) empty() bool { return q.Q == "" && q.IDNo == "" && q.Phone == "" }

func parseQuery(r *http.Request) query {
	v := r.URL.Query()
	return query{Q: strings.TrimSpace(v.Get("q")), IDNo: strings.ToUpper(strings.TrimSpace(v.Get("idno"))), Phone: strings.TrimSpace(v.Get("phone"))}
}

var (
	ffpRe = regexp.MustCompile(`^CU\d{9}$`)
	pnrRe = regexp.MustCompile(`^[A-Z2-9]{6}$`)
)

func (a *App) search(ctx context.Context, q query) ([]Passenger, error) {
	var where []string
	var args []any
	if q.IDNo != "" {
		where, args = append(where, "cn_id = ?"), append(args, q.IDNo)
	}
	if q.Phone != "" {
		where, args = append(where, "mobile = ?"), append(args, q.Phone)
	}
	if t := q.Q; t != "" {
		up := strings.ToUpper(t)
		switch {
		case ffpRe.MatchString(up):
			where, args = append(where, "ffp = ?"), append(args, up)
		case pnrRe.MatchString(up) && !strings.ContainsAny(t, "abcdefghijklmnopqrstuvwxyz"):
			where, args = append(where, "id IN (SELECT passenger_id FROM bookings WHERE pnr = ?)"), append(args, up)
		case strings.Contains(t, "@"):
			where, args = append(where, "email = ?"), append(args, strings.ToLower(t))
		case t[0] < 0x80:
			where, args = append(where, "name_pinyin LIKE ?"), append(args, t+"%")
		default:
			// Name prefix as a range, so the index serves it.
			where, args = append(where, "name >= ? AND name < ?"), append(args, t, t+"\U0010FFFF")
		}
	}
	if len(where) == 0 {
		return nil, nil
	}
	rows, err := a.db.QueryContext(ctx, `SELECT `+passengerCols+` FROM passengers WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, append(args, MaxResults)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Passenger{}
	for rows.Next() {
		p, err := scanPassenger(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

var errNotFound = errors.New("not found")

// passenger finds a passenger by id: the record number or the ID number.
func (a *App) passenger(ctx context.Context, id string) (Passenger, error) {
	col := "id"
	if len(id) == 18 {
		col, id = "cn_id", strings.ToUpper(id)
	} else if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return Passenger{}, errNotFound
	}
	p, err := scanPassenger(a.db.QueryRowContext(ctx, `SELECT `+passengerCols+` FROM passengers WHERE `+col+` = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errNotFound
	}
	return p, err
}

// trips returns a passenger's bookings from today on and the travel
// history before it (most recent first).
func (a *App) trips(ctx context.Context, id int64) (upcoming, history []Booking, err error) {
	rows, err := a.db.QueryContext(ctx, `SELECT pnr, flight, date, origin, destination, seat, cabin, status FROM bookings WHERE passenger_id = ? ORDER BY date DESC`, id)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	today := time.Now().In(sim.Zone).Format("2006-01-02")
	upcoming, history = []Booking{}, []Booking{}
	for rows.Next() {
		var b Booking
		if err := rows.Scan(&b.PNR, &b.Flight, &b.Date, &b.Origin, &b.Destination, &b.Seat, &b.Cabin, &b.Status); err != nil {
			return nil, nil, err
		}
		if b.Date >= today {
			upcoming = append([]Booking{b}, upcoming...)
		} else {
			history = append(history, b)
		}
	}
	return upcoming, history, rows.Err()
}

var dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (a *App) manifest(ctx context.Context, flight, date string) (Flight, []ManifestEntry, error) {
	var f Flight
	err := a.db.QueryRowContext(ctx, `SELECT flight, origin, destination, departs, arrives, aircraft FROM flights WHERE flight = ?`, strings.ToUpper(flight)).
		Scan(&f.Flight, &f.Origin, &f.Destination, &f.Departs, &f.Arrives, &f.Aircraft)
	if errors.Is(err, sql.ErrNoRows) || !dateRe.MatchString(date) {
		return f, nil, errNotFound
	}
	if err != nil {
		return f, nil, err
	}
	rows, err := a.db.QueryContext(ctx, `SELECT b.seat, b.pnr, p.name, p.name_pinyin, p.cn_id, p.mobile, p.ffp, b.cabin, b.status, p.id
		FROM bookings b JOIN passengers p ON p.id = b.passenger_id WHERE b.flight = ? AND b.date = ? ORDER BY b.cabin, b.seat`, f.Flight, date)
	if err != nil {
		return f, nil, err
	}
	defer rows.Close()
	out := []ManifestEntry{}
	for rows.Next() {
		var m ManifestEntry
		if err := rows.Scan(&m.Seat, &m.PNR, &m.Name, &m.Pinyin, &m.CNID, &m.Mobile, &m.FFP, &m.Cabin, &m.Status, &m.Passenger); err != nil {
			return f, nil, err
		}
		out = append(out, m)
	}
	return f, out, rows.Err()
}

// ---- HTML pages

type page struct {
	Title  string
	Actor  string
	Roles  string
	Count  int64
	Today  string
	Query  query
	Data   any
	Errmsg string
}

func (a *App) newPage(r *http.Request, title string) page {
	return page{
		Title: title,
		Actor: r.Header.Get(ActorHeader),
		Roles: r.Header.Get(RolesHeader),
		Count: a.count,
		Today: time.Now().In(sim.Zone).Format("2006-01-02"),
		Query: parseQuery(r),
	}
}

func (a *App) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := a.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		a.fail(w, "render "+name, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (a *App) fail(w http.ResponseWriter, what string, err error) {
	if a.Log != nil {
		a.Log.Error("backoffice", "what", what, "err", err)
	}
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	p := a.newPage(r, "Passenger service")
	p.Data = Flights()
	a.render(w, http.StatusOK, "home.html", p)
}

func (a *App) searchPage(w http.ResponseWriter, r *http.Request) {
	p := a.newPage(r, "Search")
	res, err := a.search(r.Context(), p.Query)
	if err != nil {
		a.fail(w, "search", err)
		return
	}
	p.Data = res
	a.render(w, http.StatusOK, "search.html", p)
}

type passengerView struct {
	Passenger Passenger `json:"passenger"`
	Bookings  []Booking `json:"bookings"`
	History   []Booking `json:"history"`
}

func (a *App) view(r *http.Request) (passengerView, error) {
	p, err := a.passenger(r.Context(), r.PathValue("id"))
	if err != nil {
		return passengerView{}, err
	}
	up, hist, err := a.trips(r.Context(), p.ID)
	return passengerView{Passenger: p, Bookings: up, History: hist}, err
}

func (a *App) passengerPage(w http.ResponseWriter, r *http.Request) {
	v, err := a.view(r)
	pg := a.newPage(r, "Passenger")
	if errors.Is(err, errNotFound) {
		pg.Errmsg = "No such passenger."
		a.render(w, http.StatusNotFound, "error.html", pg)
		return
	}
	if err != nil {
		a.fail(w, "passenger", err)
		return
	}
	pg.Title = v.Passenger.Name
	pg.Data = v
	a.render(w, http.StatusOK, "passenger.html", pg)
}

type manifestView struct {
	Flight     Flight          `json:"flight"`
	Date       string          `json:"date"`
	Passengers []ManifestEntry `json:"passengers"`
}

func (a *App) manifestView(r *http.Request, flight, date string) (manifestView, error) {
	f, m, err := a.manifest(r.Context(), flight, date)
	return manifestView{Flight: f, Date: date, Passengers: m}, err
}

func (a *App) manifestPage(w http.ResponseWriter, r *http.Request) {
	v, err := a.manifestView(r, r.PathValue("flight"), r.PathValue("date"))
	pg := a.newPage(r, "Manifest")
	if errors.Is(err, errNotFound) {
		pg.Errmsg = "No such flight or date."
		a.render(w, http.StatusNotFound, "error.html", pg)
		return
	}
	if err != nil {
		a.fail(w, "manifest", err)
		return
	}
	pg.Title = v.Flight.Flight + " " + v.Date
	pg.Data = v
	a.render(w, http.StatusOK, "manifest.html", pg)
}

// ---- JSON API

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (a *App) searchAPI(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r)
	if q.empty() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give q, idno or phone"})
		return
	}
	res, err := a.search(r.Context(), q)
	if err != nil {
		a.fail(w, "search", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(res), "passengers": res})
}

func (a *App) passengerAPI(w http.ResponseWriter, r *http.Request) {
	v, err := a.view(r)
	if errors.Is(err, errNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	if err != nil {
		a.fail(w, "passenger", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *App) flightsAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"flights": Flights()})
}

func (a *App) manifestAPI(w http.ResponseWriter, r *http.Request) {
	v, err := a.manifestView(r, r.PathValue("flight"), r.PathValue("date"))
	if errors.Is(err, errNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such flight or date"})
		return
	}
	if err != nil {
		a.fail(w, "manifest", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ---- exports

// manifestHeader is the exported manifest's header row.
var manifestHeader = []string{"flight", "date", "seat", "cabin", "pnr", "name", "name_pinyin", "cn_id", "mobile", "ffp_number", "status"}

func manifestRow(v manifestView, m ManifestEntry) []string {
	return []string{v.Flight.Flight, v.Date, m.Seat, m.Cabin, m.PNR, m.Name, m.Pinyin, m.CNID, m.Mobile, m.FFP, m.Status}
}

func (a *App) exportView(w http.ResponseWriter, r *http.Request) (manifestView, bool) {
	q := r.URL.Query()
	v, err := a.manifestView(r, q.Get("flight"), q.Get("date"))
	if errors.Is(err, errNotFound) {
		http.Error(w, "no such flight or date (give ?flight=CU1001&date=YYYY-MM-DD)", http.StatusNotFound)
		return v, false
	}
	if err != nil {
		a.fail(w, "export", err)
		return v, false
	}
	return v, true
}

func (a *App) manifestCSV(w http.ResponseWriter, r *http.Request) {
	v, ok := a.exportView(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(manifestHeader)
	for _, m := range v.Passengers {
		cw.Write(manifestRow(v, m))
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="manifest-%s-%s.csv"`, v.Flight.Flight, v.Date))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

func (a *App) manifestXLSX(w http.ResponseWriter, r *http.Request) {
	v, ok := a.exportView(w, r)
	if !ok {
		return
	}
	f := excelize.NewFile()
	defer f.Close()
	sheet := "Manifest"
	f.SetSheetName("Sheet1", sheet)
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		a.fail(w, "xlsx", err)
		return
	}
	row := func(n int, cells []string) error {
		vals := make([]any, len(cells))
		for i, c := range cells {
			vals[i] = c
		}
		return sw.SetRow("A"+strconv.Itoa(n), vals)
	}
	err = row(1, manifestHeader)
	for i, m := range v.Passengers {
		if err == nil {
			err = row(i+2, manifestRow(v, m))
		}
	}
	if err == nil {
		err = sw.Flush()
	}
	var buf bytes.Buffer
	if err == nil {
		err = f.Write(&buf)
	}
	if err != nil {
		a.fail(w, "xlsx", err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="manifest-%s-%s.xlsx"`, v.Flight.Flight, v.Date))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}
