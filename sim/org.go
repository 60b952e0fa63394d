package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/custos-dev/custos"
)

// Kind is the kind of organization simulated.
type Kind string

const (
	Airline Kind = "airline"
	Telecom Kind = "telecom"
	Bank    Kind = "bank"
	Courier Kind = "courier"
	Exam    Kind = "exam"
)

// Kinds lists the organizations the simulator knows.
var Kinds = []Kind{Airline, Telecom, Bank, Courier, Exam}

// Zone is the local time of every simulated organization (China Standard
// Time, fixed so that no tzdata is needed). Working hours are in Zone.
var Zone = time.FixedZone("CST", 8*3600)

// Config sizes an organization.
type Config struct {
	Kind      Kind
	Seed      uint64
	Employees int // default 50
	// Subjects is the number of data subjects (passengers, customers…);
	// default 500 per employee, so that unrelated people are mostly strangers.
	Subjects int
}

// Employee is a member of staff with a role, a unit, a roster and an
// office.
type Employee struct {
	ID      string
	Role    string
	OrgUnit string
	// ShiftStart is the local hour the shift starts; shifts last
	// ShiftHours. Night shifts wrap past midnight.
	ShiftStart int
	ShiftHours int
	// RestDays are the weekdays off (rosters rotate across staff).
	RestDays [2]time.Weekday
	// Volume is the mean number of record accesses per working day.
	Volume   int
	Office   int // index into Offices
	Device   string
	Password string // synthetic; only its SHA-1 ever leaves the simulator
	// Joined is the day index (from the generation start) the employee
	// starts; 0 for existing staff.
	Joined int
}

// Person is a synthetic data subject.
type Person struct {
	ID     string // cn_id, checksum-valid
	Mobile string // cn_mobile
	// Celebrity people are on the watchlist; Honey people are honeytokens
	// nobody has a reason to open.
	Celebrity bool
	Honey     bool
}

// Office is a site with its network and location.
type Office struct {
	Name     string
	Prefix   netip.Prefix
	Lat, Lon float64
}

// Offices are the organization's sites. Attackers come from elsewhere.
var Offices = []Office{
	{"Beijing", netip.MustParsePrefix("10.1.0.0/16"), 39.90, 116.40},
	{"Shanghai", netip.MustParsePrefix("10.2.0.0/16"), 31.23, 121.47},
	{"Guangzhou", netip.MustParsePrefix("10.3.0.0/16"), 23.13, 113.26},
	{"Chengdu", netip.MustParsePrefix("10.4.0.0/16"), 30.66, 104.07},
}

// ExternalNetworks are where attackers and remote crawlers connect from
// (documentation ranges), with a location for impossible-travel checks.
var ExternalNetworks = []Office{
	{"Remote-A", netip.MustParsePrefix("203.0.113.0/24"), 1.35, 103.82},
	{"Remote-B", netip.MustParsePrefix("198.51.100.0/24"), 55.75, 37.62},
}

// Org is a synthetic organization: staff, data subjects and the role
// model that drives their activity.
type Org struct {
	Config
	Employees []Employee
	People    []Person
	roles     map[string]roleModel
}

// roleModel is how one role uses personal data.
type roleModel struct {
	Role       string
	Share      float64 // of staff
	Volume     int     // mean accesses per day
	ShiftStart []int   // candidate shift starts
	Resource   custos.Resource
	Action     custos.Action
	Types      []string
	Categories []string
	Purpose    string // business reason, names the relationship
	// Revisit is the probability an access re-opens a subject the
	// employee already has a relationship with rather than a new one.
	Revisit float64
}

func roleModels(k Kind) []roleModel {
	idMobile := []string{custos.TypeCNID, custos.TypeCNMobile}
	switch k {
	case Telecom:
		return []roleModel{
			{Role: "store_staff", Share: 0.6, Volume: 25, ShiftStart: []int{9, 10, 13}, Resource: custos.Resource{System: "crm", Object: "subscriber"}, Action: custos.ActionRead, Types: idMobile, Categories: []string{custos.CategoryIdentity, custos.CategoryContact}, Purpose: "service_request", Revisit: 0.3},
			{Role: "call_center", Share: 0.3, Volume: 45, ShiftStart: []int{8, 16}, Resource: custos.Resource{System: "crm", Object: "subscriber"}, Action: custos.ActionSearch, Types: idMobile, Categories: []string{custos.CategoryContact, custos.CategoryCommunication}, Purpose: "call", Revisit: 0.2},
			{Role: "supervisor", Share: 0.1, Volume: 15, ShiftStart: []int{9}, Resource: custos.Resource{System: "crm", Object: "subscriber"}, Action: custos.ActionRead, Types: idMobile, Categories: []string{custos.CategoryIdentity, custos.CategoryContact}, Purpose: "review", Revisit: 0.6},
		}
	case Bank:
		return []roleModel{
			{Role: "loan_officer", Share: 0.7, Volume: 10, ShiftStart: []int{9}, Resource: custos.Resource{System: "credit", Object: "credit_report"}, Action: custos.ActionRead, Types: []string{custos.TypeCNID}, Categories: []string{custos.CategoryCredit, custos.CategoryIdentity}, Purpose: "loan_application", Revisit: 0.3},
			{Role: "risk_analyst", Share: 0.2, Volume: 20, ShiftStart: []int{9, 10}, Resource: custos.Resource{System: "credit", Object: "credit_report"}, Action: custos.ActionRead, Types: []string{custos.TypeCNID}, Categories: []string{custos.CategoryCredit}, Purpose: "risk_review", Revisit: 0.5},
			{Role: "supervisor", Share: 0.1, Volume: 8, ShiftStart: []int{9}, Resource: custos.Resource{System: "credit", Object: "credit_report"}, Action: custos.ActionRead, Types: []string{custos.TypeCNID}, Categories: []string{custos.CategoryCredit}, Purpose: "review", Revisit: 0.6},
		}
	case Courier:
		return []roleModel{
			{Role: "dispatcher", Share: 0.5, Volume: 80, ShiftStart: []int{7, 8, 14}, Resource: custos.Resource{System: "waybill", Object: "recipient"}, Action: custos.ActionRead, Types: []string{custos.TypeCNMobile}, Categories: []string{custos.CategoryContact, custos.CategoryWhereabouts}, Purpose: "parcel", Revisit: 0.1},
			{Role: "customer_service", Share: 0.4, Volume: 40, ShiftStart: []int{8, 12}, Resource: custos.Resource{System: "waybill", Object: "recipient"}, Action: custos.ActionSearch, Types: []string{custos.TypeCNMobile}, Categories: []string{custos.CategoryContact}, Purpose: "complaint", Revisit: 0.3},
			{Role: "supervisor", Share: 0.1, Volume: 15, ShiftStart: []int{9}, Resource: custos.Resource{System: "waybill", Object: "recipient"}, Action: custos.ActionRead, Types: []string{custos.TypeCNMobile}, Categories: []string{custos.CategoryContact}, Purpose: "review", Revisit: 0.6},
		}
	case Exam:
		return []roleModel{
			{Role: "registrar", Share: 0.6, Volume: 35, ShiftStart: []int{8, 9}, Resource: custos.Resource{System: "exam", Object: "candidate"}, Action: custos.ActionRead, Types: idMobile, Categories: []string{custos.CategoryIdentity, custos.CategoryContact, custos.CategoryMinor}, Purpose: "registration", Revisit: 0.3},
			{Role: "grader", Share: 0.3, Volume: 30, ShiftStart: []int{9}, Resource: custos.Resource{System: "exam", Object: "score"}, Action: custos.ActionRead, Types: []string{custos.TypeCNID}, Categories: []string{custos.CategoryIdentity}, Purpose: "grading", Revisit: 0.2},
			{Role: "supervisor", Share: 0.1, Volume: 10, ShiftStart: []int{9}, Resource: custos.Resource{System: "exam", Object: "candidate"}, Action: custos.ActionRead, Types: idMobile, Categories: []string{custos.CategoryIdentity}, Purpose: "review", Revisit: 0.6},
		}
	default: // Airline
		itin := []string{custos.CategoryIdentity, custos.CategoryWhereabouts}
		return []roleModel{
			{Role: "agent", Share: 0.4, Volume: 40, ShiftStart: []int{8, 9, 10}, Resource: custos.Resource{System: "reservations", Object: "passenger"}, Action: custos.ActionRead, Types: idMobile, Categories: itin, Purpose: "booking", Revisit: 0.3},
			{Role: "call_center", Share: 0.3, Volume: 50, ShiftStart: []int{8, 12, 16}, Resource: custos.Resource{System: "reservations", Object: "passenger"}, Action: custos.ActionSearch, Types: idMobile, Categories: []string{custos.CategoryIdentity, custos.CategoryContact}, Purpose: "call", Revisit: 0.2},
			{Role: "ground_staff", Share: 0.2, Volume: 60, ShiftStart: []int{5, 6, 13}, Resource: custos.Resource{System: "departure", Object: "passenger"}, Action: custos.ActionRead, Types: []string{custos.TypeCNID}, Categories: itin, Purpose: "check_in", Revisit: 0.05},
			{Role: "supervisor", Share: 0.1, Volume: 15, ShiftStart: []int{9}, Resource: custos.Resource{System: "reservations", Object: "passenger"}, Action: custos.ActionRead, Types: idMobile, Categories: itin, Purpose: "review", Revisit: 0.6},
		}
	}
}

// NewOrg builds an organization deterministically from c.
func NewOrg(c Config) *Org {
	if c.Kind == "" {
		c.Kind = Airline
	}
	if c.Employees <= 0 {
		c.Employees = 50
	}
	if c.Subjects <= 0 {
		c.Subjects = 500 * c.Employees
	}
	r := rand.New(rand.NewPCG(c.Seed, 0x6f7267))
	o := &Org{Config: c, roles: map[string]roleModel{}}
	models := roleModels(c.Kind)
	for _, m := range models {
		o.roles[m.Role] = m
	}
	for i := 0; i < c.Employees; i++ {
		m := pickRole(models, i, c.Employees)
		e := Employee{
			ID:         fmt.Sprintf("%s-e%04d", c.Kind, i+1),
			Role:       m.Role,
			ShiftStart: m.ShiftStart[r.IntN(len(m.ShiftStart))],
			ShiftHours: 8,
			Volume:     m.Volume*7/10 + r.IntN(m.Volume*6/10+1),
			Office:     r.IntN(len(Offices)),
			Password:   fmt.Sprintf("pw-%d-%d", c.Seed, r.Uint32()),
		}
		e.OrgUnit = fmt.Sprintf("%s-%s", Offices[e.Office].Name, m.Role)
		e.Device = fmt.Sprintf("dev-%s", e.ID)
		off := time.Weekday(i % 7)
		e.RestDays = [2]time.Weekday{off, (off + 1) % 7}
		o.Employees = append(o.Employees, e)
	}
	for i := 0; i < c.Subjects; i++ {
		o.People = append(o.People, Person{ID: RandomCNID(r), Mobile: RandomMobile(r)})
	}
	// A few well-known people on the watchlist and a few honeytokens.
	for i := 0; i < 10 && i < len(o.People); i++ {
		o.People[i].Celebrity = true
	}
	for i := 10; i < 15 && i < len(o.People); i++ {
		o.People[i].Honey = true
	}
	return o
}

// pickRole spreads roles over staff by their shares, deterministically.
func pickRole(models []roleModel, i, n int) roleModel {
	pos := (float64(i) + 0.5) / float64(n)
	acc := 0.0
	for _, m := range models {
		acc += m.Share
		if pos < acc {
			return m
		}
	}
	return models[len(models)-1]
}

// Watchlist returns the watchlisted subjects (raw values, for the caller
// to blind-index).
func (o *Org) Watchlist() []custos.Subject {
	var out []custos.Subject
	for _, p := range o.People {
		if p.Celebrity {
			out = append(out, custos.Subject{Type: custos.TypeCNID, Value: p.ID}, custos.Subject{Type: custos.TypeCNMobile, Value: p.Mobile})
		}
	}
	return out
}

// Honeytokens returns the honeytoken subjects (raw values).
func (o *Org) Honeytokens() []custos.Subject {
	var out []custos.Subject
	for _, p := range o.People {
		if p.Honey {
			out = append(out, custos.Subject{Type: custos.TypeCNID, Value: p.ID}, custos.Subject{Type: custos.TypeCNMobile, Value: p.Mobile})
		}
	}
	return out
}

// ordinary returns a random person who is neither watchlisted nor a
// honeytoken.
func (o *Org) ordinary(r *rand.Rand) Person {
	for {
		p := o.People[r.IntN(len(o.People))]
		if !p.Celebrity && !p.Honey {
			return p
		}
	}
}

// regions are valid administrative division codes (GB/T 2260).
var regions = []string{"110101", "110105", "310101", "310115", "440103", "440305", "510104", "320102", "330106", "420102"}

// RandomCNID returns a synthetic 18-digit resident ID with a valid region
// code, birth date and ISO 7064 MOD 11-2 check digit.
func RandomCNID(r *rand.Rand) string {
	birth := time.Date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	body := regions[r.IntN(len(regions))] + birth.Format("20060102") + fmt.Sprintf("%03d", r.IntN(1000))
	return body + string(CNIDCheck(body))
}

// CNIDCheck computes the check character of the first 17 digits of a
// resident ID.
func CNIDCheck(body17 string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body17[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

// mobilePrefixes are allocated Chinese mobile number prefixes.
var mobilePrefixes = []string{"134", "138", "139", "150", "151", "158", "186", "187", "133", "189", "177", "199"}

// RandomMobile returns a synthetic Chinese mobile number.
func RandomMobile(r *rand.Rand) string {
	return mobilePrefixes[r.IntN(len(mobilePrefixes))] + fmt.Sprintf("%08d", r.IntN(100000000))
}

// officeIP is an employee's workstation address.
func officeIP(e *Employee, idx int) string {
	p := Offices[e.Office].Prefix.Addr().As4()
	return netip.AddrFrom4([4]byte{p[0], p[1], byte(1 + idx/250), byte(1 + idx%250)}).String()
}

// externalIP is an address in external network n.
func externalIP(n, host int) string {
	p := ExternalNetworks[n].Prefix.Addr().As4()
	return netip.AddrFrom4([4]byte{p[0], p[1], p[2], byte(1 + host%250)}).String()
}

func itoa(i int) string { return strconv.Itoa(i) }
