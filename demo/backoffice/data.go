package backoffice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/custos-dev/custos/sim"
)

// schemaVersion is part of the cached file's name: bump it when the
// schema or the generator changes, so that old caches are not reused.
const schemaVersion = 1

// DefaultPassengers is the dataset's size unless Options.Passengers says
// otherwise.
const DefaultPassengers = 100_000

// Options say which dataset to serve and where to keep it.
type Options struct {
	// Dir holds the generated database (required). A database generated
	// earlier with the same seed, size, organization and day is reused.
	Dir  string
	Seed uint64 // default 1
	// Passengers is the number of passengers (default DefaultPassengers;
	// at least len(Org.People)).
	Passengers int
	// Org's people are the first passengers (same ID number and mobile),
	// so its celebrities and honeytokens exist here; nil for none.
	Org *sim.Org
	// Today is the day bookings are generated around (180 days of travel
	// history before it, 30 days of bookings after); default: today in
	// sim.Zone.
	Today time.Time
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		return errors.New("backoffice: Options.Dir is required")
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Passengers <= 0 {
		o.Passengers = DefaultPassengers
	}
	if o.Org != nil && o.Passengers < len(o.Org.People) {
		o.Passengers = len(o.Org.People)
	}
	if o.Today.IsZero() {
		o.Today = time.Now()
	}
	t := o.Today.In(sim.Zone)
	o.Today = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, sim.Zone)
	return nil
}

// file is the cached database's path for these options.
func (o *Options) file() string {
	org := "none"
	if o.Org != nil {
		org = fmt.Sprintf("%s%d-%d-%d", o.Org.Kind, o.Org.Seed, o.Org.Config.Employees, len(o.Org.People))
	}
	name := fmt.Sprintf("backoffice-v%d-s%d-n%d-%s-%s.db", schemaVersion, o.Seed, o.Passengers, org, o.Today.Format("20060102"))
	return filepath.Join(o.Dir, name)
}

const schema = `
CREATE TABLE passengers (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	name_pinyin TEXT NOT NULL,
	gender TEXT NOT NULL,
	cn_id TEXT NOT NULL,
	birth_date TEXT NOT NULL,
	mobile TEXT NOT NULL,
	email TEXT NOT NULL,
	ffp TEXT NOT NULL,
	tier TEXT NOT NULL
);
CREATE TABLE flights (
	flight TEXT PRIMARY KEY,
	origin TEXT NOT NULL,
	destination TEXT NOT NULL,
	departs TEXT NOT NULL,
	arrives TEXT NOT NULL,
	aircraft TEXT NOT NULL
);
CREATE TABLE bookings (
	id INTEGER PRIMARY KEY,
	pnr TEXT NOT NULL,
	passenger_id INTEGER NOT NULL,
	flight TEXT NOT NULL,
	date TEXT NOT NULL,
	seat TEXT NOT NULL,
	cabin TEXT NOT NULL,
	origin TEXT NOT NULL,
	destination TEXT NOT NULL,
	status TEXT NOT NULL
);`

const indexes = `
CREATE INDEX passengers_cn_id ON passengers(cn_id);
CREATE INDEX passengers_mobile ON passengers(mobile);
CREATE INDEX passengers_name ON passengers(name);
CREATE INDEX passengers_ffp ON passengers(ffp);
CREATE INDEX bookings_passenger ON bookings(passenger_id, date);
CREATE INDEX bookings_flight ON bookings(flight, date);
CREATE INDEX bookings_pnr ON bookings(pnr);`

// airports are the airline's network (IATA code and city).
var airports = []struct{ Code, City string }{
	{"PEK", "北京"}, {"PVG", "上海浦东"}, {"SHA", "上海虹桥"}, {"CAN", "广州"}, {"SZX", "深圳"},
	{"CTU", "成都"}, {"KMG", "昆明"}, {"XIY", "西安"}, {"HGH", "杭州"}, {"WUH", "武汉"},
	{"CKG", "重庆"}, {"XMN", "厦门"},
}

// flightPlan is one scheduled daily flight.
type flightPlan struct {
	Flight, Origin, Destination, Departs, Arrives, Aircraft string
}

// flights returns the airline's daily schedule: 24 flights, deterministic.
func flights() []flightPlan {
	r := rand.New(rand.NewPCG(7, 0x666c74))
	aircraft := []string{"A320", "A321", "B737", "B787", "A330"}
	var out []flightPlan
	for i := 0; i < 24; i++ {
		o := airports[r.IntN(len(airports))]
		d := airports[r.IntN(len(airports))]
		for d.Code == o.Code {
			d = airports[r.IntN(len(airports))]
		}
		dep := 6*60 + r.IntN(16*60)
		dur := 90 + r.IntN(150)
		out = append(out, flightPlan{
			Flight:      fmt.Sprintf("CU%d", 1001+i*7),
			Origin:      o.Code,
			Destination: d.Code,
			Departs:     fmt.Sprintf("%02d:%02d", dep/60, dep%60),
			Arrives:     fmt.Sprintf("%02d:%02d", (dep+dur)/60%24, (dep+dur)%60),
			Aircraft:    aircraft[r.IntN(len(aircraft))],
		})
	}
	return out
}

// Synthetic names: common surnames and given-name characters with pinyin.
var surnames = [][2]string{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"},
	{"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"},
	{"马", "ma"}, {"朱", "zhu"}, {"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"高", "gao"},
	{"林", "lin"}, {"罗", "luo"}, {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"}, {"宋", "song"},
	{"唐", "tang"}, {"许", "xu"}, {"韩", "han"}, {"冯", "feng"}, {"邓", "deng"}, {"曹", "cao"},
	{"欧阳", "ouyang"}, {"司马", "sima"},
}

var givenChars = [][2]string{
	{"伟", "wei"}, {"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
	{"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"},
	{"杰", "jie"}, {"娟", "juan"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀", "xiu"},
	{"霞", "xia"}, {"平", "ping"}, {"刚", "gang"}, {"桂", "gui"}, {"英", "ying"}, {"华", "hua"},
	{"玉", "yu"}, {"建", "jian"}, {"文", "wen"}, {"辉", "hui"}, {"宇", "yu"}, {"晨", "chen"},
	{"欣", "xin"}, {"雪", "xue"}, {"婷", "ting"}, {"浩", "hao"}, {"然", "ran"}, {"梓", "zi"},
	{"涵", "han"}, {"博", "bo"}, {"思", "si"}, {"嘉", "jia"},
}

var emailDomains = []string{"example.com", "example.net", "example.org", "mail.example.cn"}

var tiers = []string{"", "", "", "", "silver", "silver", "gold", "platinum"}

// Open returns the app over the dataset the options name, generating it
// first (in one transaction) unless an earlier run left it in Dir.
func Open(ctx context.Context, opt Options) (*App, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	path := opt.file()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := generate(ctx, opt, path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("backoffice: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("backoffice: open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("backoffice: open %s: %w", path, err)
	}
	return newApp(db, opt), nil
}

// generate writes the dataset to a temporary file and renames it into
// place, so that an interrupted run never leaves a half-written cache.
func generate(ctx context.Context, opt Options, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("backoffice: %w", err)
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := sql.Open("sqlite", "file:"+tmp+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		return fmt.Errorf("backoffice: generate: %w", err)
	}
	db.SetMaxOpenConns(1)
	err = fill(ctx, db, opt)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backoffice: generate: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("backoffice: generate: %w", err)
	}
	return nil
}

func fill(ctx context.Context, db *sql.DB, opt Options) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	plans := flights()
	insF, err := tx.PrepareContext(ctx, `INSERT INTO flights VALUES (?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for _, f := range plans {
		if _, err := insF.ExecContext(ctx, f.Flight, f.Origin, f.Destination, f.Departs, f.Arrives, f.Aircraft); err != nil {
			return err
		}
	}
	insP := &batchInsert{tx: tx, head: `INSERT INTO passengers VALUES `, cols: 10}
	insB := &batchInsert{tx: tx, head: `INSERT INTO bookings (pnr, passenger_id, flight, date, seat, cabin, origin, destination, status) VALUES `, cols: 9}
	r := rand.New(rand.NewPCG(opt.Seed, 0x70617373))
	seen := make(map[string]bool, opt.Passengers)
	var people []sim.Person
	if opt.Org != nil {
		people = opt.Org.People
	}
	for i := 0; i < opt.Passengers; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var cnid, mobile string
		if i < len(people) {
			cnid, mobile = people[i].ID, people[i].Mobile
		} else {
			for cnid = sim.RandomCNID(r); seen[cnid]; cnid = sim.RandomCNID(r) {
			}
			mobile = sim.RandomMobile(r)
		}
		seen[cnid] = true
		p := newPassenger(r, int64(i+1), cnid, mobile)
		if err := insP.add(ctx, p.ID, p.Name, p.Pinyin, p.Gender, p.CNID, p.BirthDate, p.Mobile, p.Email, p.FFP, p.Tier); err != nil {
			return err
		}
		// Bookings: a few trips each, some in the past (travel history),
		// some ahead; a trip is one PNR, sometimes with a return flight.
		trips := r.IntN(4)
		if i < len(people) && trips == 0 {
			trips = 1 // the organization's people all have a booking
		}
		for t := 0; t < trips; t++ {
			pnr := randomPNR(r)
			f := plans[r.IntN(len(plans))]
			day := opt.Today.AddDate(0, 0, r.IntN(211)-180)
			legs := []flightPlan{f}
			if r.IntN(2) == 0 {
				if back := returnFlight(plans, f); back != nil {
					legs = append(legs, *back)
				}
			}
			for l, leg := range legs {
				d := day.AddDate(0, 0, l*(2+r.IntN(6)))
				status := "ticketed"
				if d.Before(opt.Today) {
					status = "flown"
					if r.IntN(20) == 0 {
						status = "no-show"
					}
				} else if r.IntN(25) == 0 {
					status = "cancelled"
				}
				cabin := "Y"
				if r.IntN(12) == 0 {
					cabin = "C"
				}
				seat := fmt.Sprintf("%d%c", 1+r.IntN(40), "ABCDEF"[r.IntN(6)])
				if err := insB.add(ctx, pnr, p.ID, leg.Flight, d.Format("2006-01-02"), seat, cabin, leg.Origin, leg.Destination, status); err != nil {
					return err
				}
			}
		}
	}
	if err := insP.flush(ctx); err != nil {
		return err
	}
	if err := insB.flush(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, indexes); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `ANALYZE`)
	return err
}

// batchInsert inserts rows many at a time with one prepared multi-row
// statement: per-statement overhead, not SQLite, dominates row-at-a-time
// inserts.
type batchInsert struct {
	tx   *sql.Tx
	head string
	cols int
	full *sql.Stmt
	args []any
}

const batchRows = 256

func (b *batchInsert) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) < batchRows*b.cols {
		return nil
	}
	if b.full == nil {
		st, err := b.tx.PrepareContext(ctx, b.statement(batchRows))
		if err != nil {
			return err
		}
		b.full = st
	}
	_, err := b.full.ExecContext(ctx, b.args...)
	b.args = b.args[:0]
	return err
}

func (b *batchInsert) flush(ctx context.Context) error {
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, b.statement(len(b.args)/b.cols), b.args...)
	b.args = b.args[:0]
	return err
}

func (b *batchInsert) statement(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", b.cols), ",") + ")"
	return b.head + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// returnFlight is a flight back from f's destination, if the schedule
// has one.
func returnFlight(plans []flightPlan, f flightPlan) *flightPlan {
	for i := range plans {
		if plans[i].Origin == f.Destination {
			return &plans[i]
		}
	}
	return nil
}

const pnrAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func randomPNR(r *rand.Rand) string {
	var b [6]byte
	for i := range b {
		b[i] = pnrAlphabet[r.IntN(len(pnrAlphabet))]
	}
	return string(b[:])
}

func newPassenger(r *rand.Rand, id int64, cnid, mobile string) Passenger {
	s := surnames[r.IntN(len(surnames))]
	g1 := givenChars[r.IntN(len(givenChars))]
	name, py := s[0]+g1[0], g1[1]
	if r.IntN(3) > 0 {
		g2 := givenChars[r.IntN(len(givenChars))]
		name, py = name+g2[0], py+g2[1]
	}
	gender := "F"
	if (cnid[16]-'0')%2 == 1 {
		gender = "M"
	}
	email := py + "." + s[1]
	if r.IntN(2) == 0 {
		email += fmt.Sprint(r.IntN(1000))
	}
	email += "@" + emailDomains[r.IntN(len(emailDomains))]
	return Passenger{
		ID:        id,
		Name:      name,
		Pinyin:    strings.ToUpper(s[1]) + " " + strings.ToUpper(py[:1]) + py[1:],
		Gender:    gender,
		CNID:      cnid,
		BirthDate: cnid[6:10] + "-" + cnid[10:12] + "-" + cnid[12:14],
		Mobile:    mobile,
		Email:     email,
		FFP:       fmt.Sprintf("CU%09d", (id*7919+104729)%1_000_000_000),
		Tier:      tiers[r.IntN(len(tiers))],
	}
}
